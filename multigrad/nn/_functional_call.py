"""A module's forward as a function of its parameters, and per-example gradients built on it.

``functional_call(model, params, *args)`` runs ``model(*args)`` with some of its parameters
(or buffers) replaced, by dotted name, by the tensors of ``params``; the transforms can then
differentiate (or batch) the forward with respect to those tensors. ``per_example_grads`` is
``vmap(grad(...))`` of it: one gradient per example of a batch, in one batched pass.
"""

from __future__ import annotations

from typing import Callable, Mapping

from ..autograd import Tensor
from ..batching import vmap
from ..ops import expand_dims
from ..transforms import grad
from .module import Module

__all__ = ["functional_call", "per_example_grads"]


def functional_call(module: Module, params: Mapping[str, Tensor], *args, **kwargs):
    """Call ``module(*args, **kwargs)`` with its parameters and buffers named in ``params``
    replaced by the given tensors.

    Parameters
    ----------
    module : Module
        The model; it is left as it was when the call returns (or raises).
    params : dict of str to Tensor
        Replacements by dotted name, as ``named_parameters`` and ``named_buffers`` give them
        (``"0.weight"``); a tensor tied under several names is replaced under all of them.
        Names not given keep the module's own tensors.
    *args, **kwargs
        The forward's arguments.

    Returns
    -------
    The forward's result, a function of the tensors in ``params`` (differentiate it with
    ``multigrad.grad``, batch it with ``multigrad.vmap``). The replacement is made on the
    module itself, so do not call the same module from another thread meanwhile.
    """
    if not isinstance(module, Module):
        raise TypeError(f"functional_call: module must be a multigrad.nn.Module, got "
                        f"{type(module).__name__}")
    own = {**dict(module.named_parameters()), **dict(module.named_buffers())}
    replaced = {}
    for name, value in params.items():
        if name not in own:
            raise KeyError(f"functional_call: {type(module).__name__} has no parameter or "
                           f"buffer named {name!r}; its names are {sorted(own)}")
        if not isinstance(value, Tensor):
            raise TypeError(f"functional_call: params[{name!r}] is a {type(value).__name__}; "
                            "expected a Tensor")
        if value.shape != own[name].shape:
            raise ValueError(f"functional_call: params[{name!r}] has shape {value.shape} but "
                             f"the module's {name} has shape {own[name].shape}")
        if value.dtype != own[name].dtype or value.device != own[name].device:
            raise TypeError(f"functional_call: params[{name!r}] has dtype {value.dtype.name} "
                            f"on {value.device.name} but the module's {name} has dtype "
                            f"{own[name].dtype.name} on {own[name].device.name}")
        replaced[id(own[name])] = value
    swapped = []  # (registry, key, original), to put back
    try:
        for m in module.modules():
            for registry in (m._parameters, m._buffers):
                for key, t in registry.items():
                    if t is not None and id(t) in replaced:
                        swapped.append((registry, key, t))
        for registry, key, t in swapped:
            registry[key] = replaced[id(t)]
        return module(*args, **kwargs)
    finally:
        for registry, key, t in swapped:
            registry[key] = t


def per_example_grads(module: Module, loss_fn: Callable, inputs, *targets,
                      params: Mapping[str, Tensor] | None = None) -> dict:
    """The gradient of each example's loss with respect to the module's parameters.

    Every example ``i`` of the batch gets ``grad`` of ``loss_fn(module(inputs[i:i+1]),
    targets[i:i+1]...)``, all of them in one batched pass (``vmap(grad(...))`` of
    ``functional_call``), as differential privacy, influence functions and gradient-noise
    statistics need them.

    Parameters
    ----------
    module : Module
        The model. Layers that mix the examples of a batch (BatchNorm in training mode) see
        one example at a time, as a batch of one; put such a model in ``eval()`` mode.
    loss_fn : callable
        ``loss_fn(output, *targets)`` for a batch of one: a scalar.
    inputs : Tensor
        The batch, examples along axis 0.
    *targets : Tensor
        Per-example targets, examples along axis 0.
    params : dict of str to Tensor, optional
        The parameters to differentiate, by dotted name; default every parameter that
        requires gradients.

    Returns
    -------
    dict of str to Tensor
        For each parameter, its gradients stacked: shape ``(batch,) + parameter.shape``.
    """
    if params is None:
        params = {k: p for k, p in module.named_parameters() if p.requires_grad}
    params = dict(params)

    def example_loss(p, x, *t):  # layers take batches: each example as a batch of one
        return loss_fn(functional_call(module, p, expand_dims(x, axis=0)),
                       *(expand_dims(a, axis=0) for a in t))

    return vmap(grad(example_loss), in_axes=(None, 0) + (0,) * len(targets))(
        params, inputs, *targets)
