"""The CNN workload's layers written by hand, forward and backward, on any array namespace.

Only standard calls (slicing, ``stack``, ``reshape``, ``matmul``, ``tensordot``, reductions,
elementwise), so the same code runs on NumPy, CuPy (through array-api-compat) and
array_api_strict. Each ``*_forward`` returns its output and what its ``*_backward`` needs.
Convolutions are 3x3 with one pixel of zero padding (the output keeps the input's size),
without bias; pooling is 2x2 with stride 2.
"""

from __future__ import annotations

KERNEL = 3
OFFSETS = [(i, j) for i in range(KERNEL) for j in range(KERNEL)]
CORNERS = [(0, 0), (0, 1), (1, 0), (1, 1)]  # of a 2x2 pooling window


def conv_forward(xp, x, weight):
    """``(N, C, H, W)`` with ``weight`` ``(O, C, 3, 3)`` -> ``(N, O, H, W)``, and the columns.

    im2col: one strided slice of the padded input per kernel offset, stacked into columns
    ``(N, C * 9, H * W)`` in the weight's (channel, offset) order, then one matmul.
    """
    n, c, h, w = x.shape
    padded = xp.zeros((n, c, h + 2, w + 2), dtype=x.dtype, device=x.device)
    padded[:, :, 1:h + 1, 1:w + 1] = x
    cols = xp.stack([padded[:, :, i:i + h, j:j + w] for i, j in OFFSETS], axis=2)
    cols = xp.reshape(cols, (n, c * len(OFFSETS), h * w))
    out = xp.reshape(weight, (weight.shape[0], -1)) @ cols
    return xp.reshape(out, (n, weight.shape[0], h, w)), cols


def conv_backward(xp, g, cols, weight, input_grad: bool):
    """The weight's gradient, and the input's if ``input_grad`` (else None: the first
    layer's input needs none)."""
    n, o, h, w = g.shape
    g = xp.reshape(g, (n, o, h * w))
    # sum over the batch and the positions in one product
    grad_weight = xp.reshape(xp.tensordot(g, cols, axes=([0, 2], [0, 2])), weight.shape)
    if not input_grad:
        return grad_weight, None
    c = weight.shape[1]
    grad_cols = xp.reshape(xp.reshape(weight, (o, -1)).T @ g, (n, c, len(OFFSETS), h, w))
    # col2im: each offset's columns go back where its slice came from
    padded = xp.zeros((n, c, h + 2, w + 2), dtype=g.dtype, device=g.device)
    for k, (i, j) in enumerate(OFFSETS):
        padded[:, :, i:i + h, j:j + w] += grad_cols[:, :, k, ...]
    return grad_weight, padded[:, :, 1:h + 1, 1:w + 1]


def batch_norm_forward(xp, x, gamma, beta, eps):
    """Training mode: each channel normalised by the batch's mean and biased variance."""
    axes = (0, 2, 3)
    centred = x - xp.mean(x, axis=axes, keepdims=True)
    inv_std = 1 / xp.sqrt(xp.mean(centred * centred, axis=axes, keepdims=True) + eps)
    # scale and normalise in one pass over the data: a per-channel factor
    out = centred * (_per_channel(xp, gamma) * inv_std) + _per_channel(xp, beta)
    return out, (centred, inv_std)


def batch_norm_backward(xp, g, saved, gamma):
    """Gradients of the input, ``gamma`` and ``beta``."""
    centred, inv_std = saved
    axes = (0, 2, 3)
    count = g.shape[0] * g.shape[2] * g.shape[3]
    grad_beta = xp.sum(g, axis=axes, keepdims=True)
    grad_gamma = xp.sum(g * centred, axis=axes, keepdims=True) * inv_std
    # dx = gamma / std * (g - mean(g) - normalised * mean(g * normalised)), normalised =
    # centred / std, with every per-channel factor folded before touching the data
    scale = _per_channel(xp, gamma) * inv_std
    grad_x = scale * g - (centred * (scale * inv_std * grad_gamma / count)
                          + scale * grad_beta / count)
    return grad_x, xp.reshape(grad_gamma, gamma.shape), xp.reshape(grad_beta, gamma.shape)


def relu_pool_forward(xp, x):
    """``max_pool(relu(x))`` over 2x2 windows, computed as ``relu(max_pool(x))``: the two
    commute, and the ReLU then touches a quarter of the values. The maximum is taken over the
    window's four corners, each a strided slice (a reduction over reshaped axes of length 2
    runs NumPy's inner loop two elements at a time: 20x slower)."""
    corners = [x[:, :, i::2, j::2] for i, j in CORNERS]
    peak = corners[0]
    for corner in corners[1:]:
        peak = xp.maximum(peak, corner)
    return xp.maximum(peak, 0.0), (x, peak)


def relu_pool_backward(xp, g, saved):
    """Each window's cotangent goes to its maximum, unless the ReLU cut that maximum to 0 (a
    tie at a positive maximum, which continuous data do not produce, would send it to each)."""
    x, peak = saved
    g = xp.where(peak > 0, g, 0.0)
    grad = xp.empty(x.shape, dtype=g.dtype, device=g.device)
    for i, j in CORNERS:
        # a product with the mask: NumPy's where is 3x slower
        grad[:, :, i::2, j::2] = xp.astype(x[:, :, i::2, j::2] == peak, g.dtype) * g
    return grad


def _per_channel(xp, v):
    return xp.reshape(v, (1, v.shape[0], 1, 1))
