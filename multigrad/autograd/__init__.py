"""The engine: the Tensor core, the primitive registry, grad mode, and the reverse pass.

``multigrad.autograd.grad`` is the functional reverse pass with PyTorch's signature; the function
transform ``multigrad.grad`` lives beside the other transforms.
"""

from ._backward import backward, grad
from ._grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from ._primitive import LINEAR, REGISTRY, Primitive, apply, defprimitive, namespace, new_level
from ._tensor import LeafNode, Node, Tensor

__all__ = ["LINEAR", "REGISTRY", "LeafNode", "Node", "Primitive", "Tensor", "apply", "backward",
           "defprimitive", "enable_grad", "grad", "is_grad_enabled", "namespace", "new_level",
           "no_grad", "set_grad_enabled"]
