"""Pickling and copying: leaf tensors, Parameters, Modules and optimisers survive ``pickle``,
``copy.deepcopy`` and a trip to another process, on the device they came from; a tensor made
by a recorded op refuses, naming ``detach()``.

What a pickled leaf keeps: its values, dtype, shape, device, class (a Parameter stays one),
``requires_grad`` and ``.grad`` (as PyTorch's deepcopy does; PyTorch's pickle drops ``.grad``);
not its hooks or forward-mode tangents. The copy is a new leaf: gradients reach it, not the
original.
"""

from __future__ import annotations

import copy
import multiprocessing
import pickle

import numpy as np
import pytest

import multigrad as mg
from multigrad import nn, optim


def _round_trip(obj):
    return pickle.loads(pickle.dumps(obj))


def _same_values(a: mg.Tensor, b: mg.Tensor) -> None:
    assert a.device is b.device and a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.numpy(), b.numpy())


# -- tensors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("copier", [_round_trip, copy.deepcopy])
def test_leaf_tensors_keep_values_device_requires_grad_and_grad(backend, copier):
    t = backend.tensor([[1.5, -2.0, 0.0], [3.0, 4.0, -0.0]], requires_grad=True)
    mg.sum(t * t).backward()
    u = copier(t)
    _same_values(u, t)
    assert u.requires_grad and u.is_leaf and u is not t
    _same_values(u.grad, t.grad)
    # a new leaf: its gradient lands in the copy, the original's stays as it was
    mg.sum(3 * u).backward()
    np.testing.assert_array_equal(u.grad.numpy(), 2 * t.numpy() + 3)
    np.testing.assert_array_equal(t.grad.numpy(), 2 * t.numpy())


@pytest.mark.parametrize("values, dtype", [
    (np.array(2.5), None), (np.zeros((0, 3)), None), (np.array([1, -2**40]), mg.int64),
    (np.array([True, False]), mg.bool), (np.array([1 + 2j, -0.5j]), mg.complex128),
    (np.array([[7]], dtype=np.uint8), mg.uint8),
])
def test_tensors_of_every_kind_round_trip_without_gradients(backend, values, dtype):
    t = backend.tensor(values, dtype=dtype)
    u = _round_trip(t)
    _same_values(u, t)
    assert not u.requires_grad and u.grad is None


def test_a_tensor_made_by_an_op_refuses_and_names_detach():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = mg.exp(x)
    for attempt in (pickle.dumps, copy.deepcopy, copy.copy):
        with pytest.raises(RuntimeError, match=r"tensor made by a recorded op \(exp\).*"
                                               r"tensor\.detach\(\)"):
            attempt(y)
    back = _round_trip(y.detach())
    assert back.is_leaf and not back.requires_grad
    np.testing.assert_allclose(back.numpy(), np.exp([1.0, 2.0]))
    with mg.no_grad():  # nothing recorded: a leaf, which pickles
        _same_values(_round_trip(mg.exp(x)), mg.exp(x).detach())


def test_a_gradient_made_with_create_graph_is_pickled_as_values():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    mg.sum(x ** 3).backward(create_graph=True)
    assert not x.grad.is_leaf
    back = _round_trip(x)
    assert back.grad.is_leaf and not back.grad.requires_grad
    np.testing.assert_array_equal(back.grad.numpy(), [3.0, 12.0])


def test_unpickling_on_a_missing_device_names_it_and_the_way_out():
    data = pickle.dumps(mg.tensor([1.0], device="strict:device1"))
    elsewhere = data.replace(b"strict:device1", b"strict:device9")
    with pytest.raises(mg.DeviceError, match=r"unpickling a tensor from device "
                                             r"'strict:device9'.*\.to\('cpu'\).*"
                                             r"multigrad\.load\(path, device=\.\.\.\)"):
        pickle.loads(elsewhere)


def test_parameters_stay_parameters_frozen_or_not():
    p = nn.Parameter(mg.tensor([1.0, 2.0], device="strict:device1"))
    frozen = nn.Parameter(mg.tensor([3.0]), requires_grad=False)
    q, f = _round_trip((p, frozen))
    assert type(q) is nn.Parameter and q.requires_grad and q.device == "strict:device1"
    assert type(f) is nn.Parameter and not f.requires_grad
    _same_values(q, p)


# -- modules and optimisers ---------------------------------------------------------------------

class Block(nn.Module):
    """A custom module with a submodule, a shared (tied) parameter and a plain attribute."""

    def __init__(self, device):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1, device=device, seed=1)
        self.bn = nn.BatchNorm2d(3, device=device)
        self.head = nn.Linear(3 * 4 * 4, 5, device=device, seed=2)
        self.tied = self.head.weight
        self.scale = 0.5

    def forward(self, x):
        h = mg.reshape(nn.functional.relu(self.bn(self.conv(x))), (x.shape[0], -1))
        return self.scale * self.head(h) + mg.sum(self.tied) * 0.0


def _model(device):
    return nn.Sequential(Block(device), nn.Dropout(0.0), nn.Linear(5, 2, device=device, seed=3))


def _train_step(model, opt, x, labels):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), labels)
    loss.backward()
    opt.step()
    return loss


@pytest.mark.parametrize("make_opt", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: optim.Adam(ps, lr=0.01),
    lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1),
    lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5),
    lambda ps: optim.Adagrad(ps, lr=0.1),
], ids=["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
@pytest.mark.parametrize("device", ["cpu", "strict:device1"])
def test_a_model_and_its_optimiser_pickled_together_train_on_identically(device, make_opt):
    model = _model(device)
    opt = make_opt(model.parameters())
    x = mg.asarray(np.random.default_rng(0).normal(size=(4, 2, 4, 4)), device=device,
                   dtype=mg.float32)
    labels = mg.asarray(np.array([0, 1, 1, 0]), device=device)
    _train_step(model, opt, x, labels)
    model2, opt2 = _round_trip((model, opt))

    params2 = list(model2.parameters())
    assert [id(p) for p in opt2.param_groups[0]["params"]] == [id(p) for p in params2]
    assert set(map(id, opt2.state)) == set(map(id, params2))  # state keyed by the new ones
    assert model2[0].tied is model2[0].head.weight  # tied weights stay tied
    assert model2[0].scale == 0.5 and model2.training
    for (k, a), (k2, b) in zip(model.state_dict().items(), model2.state_dict().items()):
        assert k == k2
        _same_values(a, b)

    loss = _train_step(model, opt, x, labels)
    loss2 = _train_step(model2, opt2, x, labels)
    np.testing.assert_array_equal(loss2.numpy(), loss.numpy())
    for p, p2 in zip(model.parameters(), params2):
        _same_values(p2, p)


def test_eval_mode_and_buffers_survive(tmp_path):
    model = _model("cpu")
    model(mg.ones((2, 2, 4, 4), dtype=mg.float32))  # moves the running statistics
    model.eval()
    back = _round_trip(model)
    assert not back.training and not back[0].bn.training
    _same_values(back[0].bn.running_mean, model[0].bn.running_mean)
    x = mg.ones((3, 2, 4, 4), dtype=mg.float32)
    np.testing.assert_array_equal(back(x).numpy(), model(x).numpy())


def test_deepcopy_makes_an_independent_model_for_ema_targets():
    model = nn.Sequential(nn.Linear(3, 4, seed=0), nn.ReLU(), nn.Linear(4, 1, seed=1))
    target = copy.deepcopy(model)
    for p, q in zip(model.parameters(), target.parameters()):
        assert p is not q and type(q) is nn.Parameter
        _same_values(p, q)
    # the copy's gradients land in the copy (they used to land in the original's .grad)
    mg.sum(target(mg.ones((2, 3), dtype=mg.float32))).backward()
    assert all(p.grad is None for p in model.parameters())
    assert all(q.grad is not None for q in target.parameters())
    target.zero_grad()
    opt = optim.SGD(model.parameters(), lr=0.5)
    mg.sum(model(mg.ones((2, 3), dtype=mg.float32))).backward()
    opt.step()
    with mg.no_grad():  # an EMA update of the target
        for p, q in zip(model.parameters(), target.parameters()):
            q.data = (0.9 * q + 0.1 * p).data
    assert all(q.grad is None for q in target.parameters())
    assert not np.array_equal(model[0].weight.numpy(), target[0].weight.numpy())


def test_a_copied_dropout_draws_from_a_new_generator_seeded_again():
    layer = nn.Dropout(0.5, seed=7)
    x = mg.ones((64,))
    first = layer(x).numpy()
    again = layer(x).numpy()
    copied = copy.deepcopy(layer)
    np.testing.assert_array_equal(copied(x).numpy(), first)  # reseeded with seed=7
    assert not np.array_equal(first, again)
    unseeded = _round_trip(nn.Dropout(0.5))
    assert unseeded(x).shape == (64,)


# -- another process ----------------------------------------------------------------------------

def _step_in_child(payload):
    """Run in a spawned process: one training step on the model it was sent."""
    model, opt, x, labels = payload
    loss = _train_step(model, opt, x, labels)
    return loss.detach(), model  # the loss itself is part of a graph: it would refuse


def test_a_spawned_process_trains_a_step_and_sends_the_model_back():
    device = "strict:device1"
    model = nn.Sequential(nn.Linear(3, 4, device=device, seed=0), nn.Tanh(),
                          nn.Linear(4, 2, device=device, seed=1))
    opt = optim.Adam(model.parameters(), lr=0.1)
    x = mg.asarray(np.arange(6.0).reshape(2, 3), device=device, dtype=mg.float32)
    labels = mg.asarray(np.array([1, 0]), device=device)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        loss, trained = pool.apply(_step_in_child, ((model, opt, x, labels),))
    expected = _train_step(model, opt, x, labels)
    assert loss.device == device
    np.testing.assert_array_equal(loss.numpy(), expected.numpy())
    for p, q in zip(model.parameters(), trained.parameters()):
        _same_values(q, p)
