"""multigrad.nn.init: seeded on the tensor's device, with the published scales."""

from __future__ import annotations

import math

import numpy as np
import pytest

import multigrad as mg
from multigrad import nn
from multigrad.nn import init

# (initialiser, keyword arguments, "normal" std or "uniform" bound) for a (200, 100) weight:
# fan_in = 100, fan_out = 200
SCALES = {
    "kaiming_normal_": (dict(nonlinearity="relu"), "std", math.sqrt(2 / 100)),
    "kaiming_uniform_": (dict(mode="fan_out", nonlinearity="relu"), "bound",
                         math.sqrt(2) * math.sqrt(3 / 200)),
    "xavier_normal_": (dict(gain=2.0), "std", 2 * math.sqrt(2 / 300)),
    "xavier_uniform_": (dict(), "bound", math.sqrt(6 / 300)),
    "lecun_normal_": (dict(), "std", math.sqrt(1 / 100)),
    "lecun_uniform_": (dict(), "bound", math.sqrt(3 / 100)),
}


@pytest.mark.parametrize("name", sorted(SCALES))
def test_random_initialisers_are_seeded_on_the_device_with_their_scale(backend, name):
    kwargs, kind, scale = SCALES[name]
    fn = getattr(init, name)

    def draw(seed):
        w = mg.empty((200, 100), dtype=backend.dtype, device=backend.device)
        assert fn(w, **kwargs, seed=seed) is w
        assert w.device is backend.device and w.dtype == backend.dtype
        return w.numpy()

    values = draw(1)
    np.testing.assert_array_equal(values, draw(1))
    assert not np.array_equal(values, draw(2))
    if kind == "std":
        assert abs(values.std() / scale - 1) < 0.03 and abs(values.mean()) < 0.03 * scale
    else:
        assert np.abs(values).max() <= scale and np.abs(values).max() > 0.99 * scale
        assert abs(values.std() / (scale / math.sqrt(3)) - 1) < 0.03


def test_a_generator_draws_one_stream_across_tensors(backend):
    a, b = (mg.empty((3,), dtype=backend.dtype, device=backend.device) for _ in range(2))
    gen = backend.device.random(0)
    init.normal_(a, generator=gen)
    init.normal_(b, generator=gen)
    assert not np.array_equal(a.numpy(), b.numpy())
    fresh = mg.empty((3,), dtype=backend.dtype, device=backend.device)
    np.testing.assert_array_equal(init.normal_(fresh, seed=0).numpy(), a.numpy())


def test_constant_initialisers_keep_a_parameter_a_leaf(backend):
    p = nn.Parameter(mg.empty((2, 3), dtype=backend.dtype, device=backend.device))
    np.testing.assert_array_equal(init.ones_(p).numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(init.zeros_(p).numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(init.constant_(p, 0.5).numpy(), np.full((2, 3), 0.5))
    assert p.is_leaf and p.requires_grad and p.device is backend.device


def test_layers_are_reproducible_from_a_seed_and_use_the_default_bound(backend):
    def make(seed):
        return nn.Conv2d(3, 4, 2, device=backend.device, dtype=backend.dtype, seed=seed)

    a, b, c = make(0), make(0), make(1)
    for name, t in a.state_dict().items():
        np.testing.assert_array_equal(t.numpy(), b.state_dict()[name].numpy())
        assert t.device is backend.device and t.dtype == backend.dtype
    assert not np.array_equal(a.weight.numpy(), c.weight.numpy())
    bound = 1 / math.sqrt(3 * 2 * 2)
    assert np.abs(a.weight.numpy()).max() <= bound
    assert not np.array_equal(nn.Linear(4, 4).weight.numpy(), nn.Linear(4, 4).weight.numpy())


def test_fans_and_gains():
    assert init.fan_in_and_out(mg.empty((8, 3, 5, 5))) == (75, 200)
    assert init.fan_in_and_out(mg.empty((7,))) == (7, 7)
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    with pytest.raises(ValueError, match="calculate_gain: unknown nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="init: mode must be 'fan_in' or 'fan_out', not 'fan'"):
        init.kaiming_normal_(mg.empty((2, 2)), mode="fan", seed=0)
    with pytest.raises(ValueError, match="fan_in_and_out: a 0-d tensor"):
        init.xavier_uniform_(mg.empty(()), seed=0)
