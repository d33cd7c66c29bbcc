"""multigrad.nn layers: output shapes, agreement with direct NumPy loops, gradients against
central differences (float64), and placement on array_api_strict's device1."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import multigrad as mg
from multigrad import nn
from multigrad.nn import functional as F
from test_placement import no_host_transfers


# -- NumPy references: direct loops over every output element ---------------------------------

def conv2d_loops(x, w, b, stride, padding, dilation, groups):
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    n, _, h, wd = x.shape
    o, per_group, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, o, ho, wo))
    for b_, oc, i, j in itertools.product(range(n), range(o), range(ho), range(wo)):
        g = oc // (o // groups)
        total = 0.0 if b is None else b[oc]
        for c, ki, kj in itertools.product(range(per_group), range(kh), range(kw)):
            total += w[oc, c, ki, kj] * xp[b_, g * per_group + c, i * sh + ki * dh,
                                            j * sw + kj * dw]
        out[b_, oc, i, j] = total
    return out


def pool2d_loops(x, kernel, stride, padding, kind, count_include_pad=True):
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    real = np.pad(np.ones_like(x), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, c, h, w = xp.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((n, c, ho, wo))
    for i, j in itertools.product(range(ho), range(wo)):
        window = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
        if kind == "max":
            out[:, :, i, j] = window.max(axis=(2, 3))
        elif count_include_pad:
            out[:, :, i, j] = window.mean(axis=(2, 3))
        else:
            count = real[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].sum(axis=(2, 3))
            out[:, :, i, j] = window.sum(axis=(2, 3)) / count
    return out


def _close(backend, actual, expected):
    tol = 1e-10 if backend.precise else 1e-4
    np.testing.assert_allclose(actual.numpy(), expected, rtol=tol, atol=tol)


# -- convolution and pooling against the loops -------------------------------------------------

CONV_CASES = [
    dict(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1),
    dict(stride=(2, 1), padding=(1, 2), dilation=(1, 1), groups=1),
    dict(stride=(1, 2), padding=(1, 1), dilation=(2, 1), groups=2),
    dict(stride=(2, 2), padding=(2, 0), dilation=(2, 2), groups=4),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "-".join(
    f"{k[0]}{''.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in c.items()))
def test_conv2d_matches_direct_loops(backend, rng, case):
    x = rng.normal(size=(2, 4, 7, 6))
    w = rng.normal(size=(4, 4 // case["groups"], 3, 2))
    b = rng.normal(size=(4,))
    out = F.conv2d(backend.tensor(x), backend.tensor(w), backend.tensor(b), **case)
    assert out.device is backend.device and out.dtype == backend.dtype
    _close(backend, out, conv2d_loops(x, w, b, **case))


def test_conv2d_layer_shapes_and_same_padding(backend):
    layer = nn.Conv2d(3, 6, (3, 5), padding="same", groups=3, device=backend.device,
                      dtype=backend.dtype, seed=0)
    x = backend.tensor(np.ones((2, 3, 5, 7)))
    assert layer(x).shape == (2, 6, 5, 7)
    assert layer.weight.shape == (6, 1, 3, 5) and layer.bias.shape == (6,)
    strided = nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=False, device=backend.device,
                        dtype=backend.dtype, seed=0)
    assert strided(x).shape == (2, 4, 3, 4) and strided.bias is None


def test_conv1d_is_conv2d_of_height_one(backend, rng):
    x, w, b = rng.normal(size=(2, 4, 9)), rng.normal(size=(6, 2, 3)), rng.normal(size=(6,))
    out = F.conv1d(backend.tensor(x), backend.tensor(w), backend.tensor(b), stride=2, padding=1,
                   dilation=2, groups=2)
    expected = conv2d_loops(x[:, :, None, :], w[:, :, None, :], b, (1, 2), (0, 1), (1, 2), 2)
    assert out.shape == (2, 6, 4)
    _close(backend, out, expected[:, :, 0, :])


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("kernel,stride,padding", [((2, 2), (2, 2), (0, 0)),
                                                   ((3, 2), (1, 2), (1, 1)),
                                                   ((3, 3), (2, 1), (1, 0))])
def test_pooling_matches_direct_loops(backend, rng, kind, kernel, stride, padding):
    x = rng.normal(size=(2, 3, 7, 6))
    layer = (nn.MaxPool2d if kind == "max" else nn.AvgPool2d)(kernel, stride, padding)
    _close(backend, layer(backend.tensor(x)), pool2d_loops(x, kernel, stride, padding, kind))


def test_avg_pool_without_padded_zeros(backend, rng):
    x = rng.normal(size=(1, 2, 5, 5))
    out = F.avg_pool2d(backend.tensor(x), 3, stride=2, padding=1, count_include_pad=False)
    _close(backend, out, pool2d_loops(x, (3, 3), (2, 2), (1, 1), "avg", False))


def test_max_pool_ties_share_the_gradient(backend):
    x = backend.tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    mg.sum(F.max_pool2d(x, 2)).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((1, 1, 2, 2), 0.25))


# -- gradients against central differences (float64) -----------------------------------------

def _with_parameters(module, names, values, x):
    """``module(x)`` with the named parameters replaced by ``values`` (for gradcheck)."""
    owners = dict(module.named_modules())
    saved = []
    for name, value in zip(names, values):
        path, _, leaf = name.rpartition(".")
        owner = owners[path]
        saved.append((owner, leaf, owner._parameters[leaf]))
        owner._parameters[leaf] = value
    try:
        return module(x)
    finally:
        for owner, leaf, value in saved:
            owner._parameters[leaf] = value


def _gradcheck_module(module, x):
    names, params = zip(*module.named_parameters()) if list(module.parameters()) else ((), ())
    inputs = [x] + [mg.tensor(p, requires_grad=True) for p in params]
    assert mg.gradcheck(lambda x, *ps: _with_parameters(module, names, ps, x), *inputs)


LAYERS = {
    "Linear": (lambda d: nn.Linear(3, 2, device=d, dtype=mg.float64, seed=0), (4, 3)),
    "Conv1d": (lambda d: nn.Conv1d(2, 4, 3, stride=2, padding=1, groups=2, device=d,
                                   dtype=mg.float64, seed=0), (2, 2, 5)),
    "Conv2d": (lambda d: nn.Conv2d(2, 2, (2, 3), stride=(1, 2), padding=1, dilation=(2, 1),
                                   device=d, dtype=mg.float64, seed=0), (1, 2, 4, 5)),
    "MaxPool2d": (lambda d: nn.MaxPool2d(2, stride=1, padding=1), (1, 2, 3, 3)),
    "AvgPool2d": (lambda d: nn.AvgPool2d(3, stride=2, padding=1), (1, 2, 4, 5)),
    "BatchNorm1d": (lambda d: nn.BatchNorm1d(3, device=d, dtype=mg.float64), (4, 3)),
    "BatchNorm2d": (lambda d: nn.BatchNorm2d(2, device=d, dtype=mg.float64), (3, 2, 2, 2)),
    "LayerNorm": (lambda d: nn.LayerNorm((2, 3), device=d, dtype=mg.float64), (2, 2, 3)),
    "Flatten": (lambda d: nn.Flatten(), (2, 3, 2)),
    "ReLU": (lambda d: nn.ReLU(), (3, 4)),
    "Sigmoid": (lambda d: nn.Sigmoid(), (3, 4)),
    "Tanh": (lambda d: nn.Tanh(), (3, 4)),
    "GELU": (lambda d: nn.GELU(approximate="tanh"), (3, 4)),
    "Softmax": (lambda d: nn.Softmax(axis=0), (3, 4)),
    "LogSoftmax": (lambda d: nn.LogSoftmax(), (3, 4)),
    "Softplus": (lambda d: nn.Softplus(beta=2.0), (3, 4)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_gradients_match_central_differences(backend64, rng, name):
    make, shape = LAYERS[name]
    module = make(backend64.device)
    if name.startswith("BatchNorm"):
        # affine parameters away from their identity start, so their gradients are generic
        module.load_state_dict({**module.state_dict(), "weight": rng.uniform(0.5, 2, shape[1]),
                                "bias": rng.normal(size=shape[1])})
    # distinct values away from 0: max pooling and ReLU have kinks at ties and at 0
    values = rng.permutation(np.prod(shape)).reshape(shape) / 7.0 - 1.03
    _gradcheck_module(module, backend64.tensor(values, requires_grad=True))


def test_batch_norm_gradients_in_eval_mode(backend64, rng):
    module = nn.BatchNorm2d(2, device=backend64.device, dtype=mg.float64)
    module.load_state_dict({**module.state_dict(), "running_mean": rng.normal(size=2),
                            "running_var": rng.uniform(0.5, 2, 2)})
    module.eval()
    _gradcheck_module(module, backend64.tensor(rng.normal(size=(2, 2, 2, 3)),
                                               requires_grad=True))


_PATCH_OPS = {
    "conv2d": lambda x, w: F.conv2d(x, w, padding=1, stride=(2, 1), dilation=(1, 2)),
    "max_pool2d": lambda x, w: F.max_pool2d(x, 2),
    "avg_pool2d": lambda x, w: F.avg_pool2d(x, 3, stride=1, padding=1),
}


@pytest.mark.parametrize("name", sorted(_PATCH_OPS))
def test_patch_ops_forward_and_second_order_against_central_differences(backend64, rng, name):
    # the patches these ops cut are one primitive with its own rules: check its JVP, and the
    # reverse-over-reverse and forward-over-reverse products that run those rules on tensors
    op = _PATCH_OPS[name]
    x = backend64.tensor(rng.normal(size=(2, 3, 6, 5)))
    v = backend64.tensor(rng.normal(size=(2, 3, 6, 5)))
    w = backend64.tensor(rng.normal(size=(4, 3, 3, 2)))
    step = 1e-6

    def derivative(f):
        return (f(x + step * v) - f(x - step * v)) / (2 * step)

    _, tangent = mg.jvp(lambda a: op(a, w), (x,), (v,))
    np.testing.assert_allclose(tangent.numpy(), derivative(lambda a: op(a, w)).numpy(),
                               rtol=1e-6, atol=1e-7)

    def energy(a):
        return mg.sum(op(a, w) ** 3)

    expected = derivative(mg.grad(energy)).numpy()
    _, (forward_over_reverse,) = mg.hvp(energy, (x,), (v,))
    reverse_over_reverse = mg.grad(lambda a: mg.sum(mg.grad(energy)(a) * v))(x)
    for got in (forward_over_reverse, reverse_over_reverse):
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("axes", [(0, 2, 3), (2, 3), (1,)])
def test_standardize_primitive_in_every_output_and_mode_against_central_differences(
        backend64, rng, axes):
    # batch and layer norm run one primitive with closed-form rules; weigh all three of its
    # outputs (batch norm moves its running statistics with the mean and the variance) so
    # that every term of the rules counts, in reverse mode, forward mode and second order
    from multigrad.nn._normalization import standardize

    x = backend64.tensor(rng.normal(size=(3, 2, 4, 3)) * 2.0 + 0.5, requires_grad=True)
    v = backend64.tensor(rng.normal(size=(3, 2, 4, 3)))
    weights = [backend64.tensor(rng.normal(size=s)) for s in
               [(3, 2, 4, 3)] + [tuple(1 if a in axes else n for a, n in enumerate(x.shape))] * 2]
    step = 1e-6

    def outputs(a):
        return standardize(a, axes, 1e-3)

    def energy(a):
        y, mu, var = outputs(a)
        return (mg.sum(y ** 3 * weights[0]) + mg.sum(mu * weights[1])
                + mg.sum(mg.sqrt(var) * weights[2]))

    def derivative(f):
        return (f(x + step * v) - f(x - step * v)) / (2 * step)

    assert mg.numerical.gradcheck(energy, x)
    _, tangents = mg.jvp(outputs, (x,), (v,))
    expected = [derivative(lambda a, k=k: outputs(a)[k]) for k in range(3)]
    for got, want in zip(tangents, expected):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-7)
    expected = derivative(mg.grad(energy)).numpy()
    _, (forward_over_reverse,) = mg.hvp(energy, (x,), (v,))
    reverse_over_reverse = mg.grad(lambda a: mg.sum(mg.grad(energy)(a) * v))(x)
    for got in (forward_over_reverse, reverse_over_reverse):
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_embedding_gradient_accumulates_repeated_indices(backend):
    emb = nn.Embedding(5, 3, device=backend.device, dtype=backend.dtype, seed=0)
    indices = mg.asarray(np.array([[1, 3], [1, 1]]), device=backend.device)
    out = emb(indices)
    assert out.shape == (2, 2, 3)
    _close(backend, out[1, 0], emb.weight.numpy()[1])
    mg.sum(out).backward()
    expected = np.zeros((5, 3))
    expected[1], expected[3] = 3.0, 1.0
    _close(backend, emb.weight.grad, expected)


def test_embedding_gradcheck(backend64, rng):
    weight = backend64.tensor(rng.normal(size=(4, 2)), requires_grad=True)
    indices = mg.asarray(np.array([0, 2, 2, 3]), device=backend64.device)
    assert mg.gradcheck(lambda w: F.embedding(indices, w), weight)


def test_dropout_gradient_with_a_fixed_mask(backend64, rng):
    x = backend64.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    assert mg.gradcheck(lambda x: F.dropout(x, 0.4, seed=3), x)


# -- training-mode behaviour -------------------------------------------------------------------

def test_batch_norm_running_statistics_and_eval_mode(backend, rng):
    bn = nn.BatchNorm2d(3, momentum=0.25, device=backend.device, dtype=backend.dtype)
    batches = [rng.normal(2.0, 3.0, size=(4, 3, 2, 2)) for _ in range(2)]
    mean, var = np.zeros(3), np.ones(3)
    for xv in batches:
        out = bn(backend.tensor(xv))
        mu, v = xv.mean(axis=(0, 2, 3)), xv.var(axis=(0, 2, 3))
        expected = (xv - mu[:, None, None]) / np.sqrt(v[:, None, None] + 1e-5)
        _close(backend, out, expected)
        mean = 0.75 * mean + 0.25 * mu
        var = 0.75 * var + 0.25 * xv.var(axis=(0, 2, 3), ddof=1)  # unbiased, as is usual
    _close(backend, bn.running_mean, mean)
    _close(backend, bn.running_var, var)
    assert bn.running_mean.device is backend.device
    bn.eval()
    xv = rng.normal(size=(2, 3, 2, 2))
    out = bn(backend.tensor(xv))
    _close(backend, out, (xv - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5))
    _close(backend, bn.running_mean, mean)  # eval mode leaves the statistics alone


def test_layer_norm_normalises_each_sample(backend, rng):
    xv = rng.normal(size=(3, 5))
    out = nn.LayerNorm(5, device=backend.device, dtype=backend.dtype)(backend.tensor(xv))
    expected = (xv - xv.mean(axis=1, keepdims=True)) / np.sqrt(
        xv.var(axis=1, keepdims=True) + 1e-5)
    _close(backend, out, expected)


def test_dropout_drops_scales_and_stops_in_eval_mode(backend):
    drop = nn.Dropout(0.25, device=backend.device, seed=0)
    x = backend.tensor(np.ones((40, 50)))
    out = drop(x).numpy()
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-6)
    assert 0.7 < kept.mean() < 0.8
    assert not np.array_equal(drop(x).numpy() != 0, kept)  # the generator moves on
    assert drop.eval()(x) is x


def test_dropout_follows_the_module_to_another_device():
    drop = nn.Dropout(0.5, seed=1)
    x = mg.ones((3, 4), device="strict:device1")
    drop.to("strict:device1")
    assert drop(x).device == "strict:device1"


# -- placement ---------------------------------------------------------------------------------

def test_network_on_device1_stays_there():
    device = "strict:device1"
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, device=device, seed=0),
                          nn.BatchNorm2d(2, device=device), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Dropout(0.1, device=device, seed=0),
                          nn.Linear(8, 3, device=device, seed=1))
    x = mg.ones((2, 1, 4, 4), device=device, dtype=mg.float32)
    labels = mg.asarray([0, 2], device=device)
    with no_host_transfers():
        loss = F.cross_entropy(model(x), labels, label_smoothing=0.1)
        loss.backward()
    assert loss.device == device
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        assert t.device == device, name
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.device == device, name


# -- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("layer,shape,message", [
    (lambda: nn.Linear(3, 2, seed=0), (4, 5),
     r"Linear\(in_features=3.*\(\.\.\., 3\), got \(4, 5\)"),
    (lambda: nn.Conv2d(3, 2, 3, seed=0), (1, 2, 5, 5), r"Conv2d\(3, 2.*\(N, 3, H, W\), got"),
    (lambda: nn.Conv1d(3, 2, 3, seed=0), (1, 3, 5, 5), r"Conv1d\(3, 2.*\(N, 3, L\), got"),
    (lambda: nn.MaxPool2d(2), (5,), r"MaxPool2d\(kernel_size=2.*\(N, C, H, W\)"),
    (lambda: nn.BatchNorm2d(3), (2, 4, 2, 2), r"BatchNorm2d\(3.*\(N, 3, H, W\), got \(2, 4"),
    (lambda: nn.BatchNorm1d(3), (2, 4), r"BatchNorm1d\(3.*\(N, 3\) or \(N, 3, L\)"),
    (lambda: nn.LayerNorm(4), (2, 3), r"LayerNorm\(\(4,\).*\(\.\.\., 4\), got \(2, 3\)"),
    (lambda: nn.Conv2d(1, 1, 5, seed=0), (1, 1, 3, 3), r"Conv2d.*input size 3 is smaller"),
])
def test_wrong_input_shape_names_the_layer_and_the_expected_shape(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer()(mg.ones(shape, dtype=mg.float32))  # the layers' default dtype


def test_bad_layer_settings_are_refused():
    with pytest.raises(ValueError, match="groups=2 must divide in_channels=3"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        F.conv2d(mg.ones((1, 1, 4, 4)), mg.ones((1, 1, 3, 3)), stride=2, padding="same")
    with pytest.raises(ValueError, match="max_pool2d.*padding .* half the kernel"):
        F.max_pool2d(mg.ones((1, 1, 4, 4)), 2, padding=2)
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\]"):
        nn.Dropout(1.5)
    with pytest.raises(TypeError, match="embedding: indices must have an integer dtype"):
        F.embedding(mg.ones((2,)), mg.ones((3, 2)))
    with pytest.raises(mg.MixedDeviceError, match="embedding: arguments are on different devices"):
        F.embedding(mg.asarray([0], device="strict:device1"), mg.ones((3, 2)))
    with pytest.raises(IndexError, match=r"embedding: indices must be in \[0, 3\)"):
        F.embedding(mg.asarray([0, -1]), mg.ones((3, 2)))
    with pytest.raises(ValueError, match="batch_norm: training needs more than one value"):
        nn.BatchNorm1d(2)(mg.ones((1, 2), dtype=mg.float32))
