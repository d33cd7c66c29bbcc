"""multigrad.nn.Module: registration, traversal, modes, state dicts and moves between devices."""

from __future__ import annotations

import numpy as np
import pytest

import multigrad as mg
from multigrad import nn
from multigrad.autograd import Tensor


class Block(nn.Module):
    """A module with a parameter, a buffer, a submodule, a tied layer and a plain attribute."""

    def __init__(self, device=None):
        super().__init__()
        self.scale = nn.Parameter(mg.ones((3,), device=device))
        self.register_buffer("count", mg.zeros((), device=device))
        self.inner = nn.Linear(3, 3, device=device, seed=0)
        self.tied = self.inner  # the same layer twice: its parameters are listed once
        self.not_a_parameter = mg.ones((2,), device=device)

    def forward(self, x):
        return self.tied(self.inner(x) * self.scale)


def _model(device=None, seed=0):
    """float64, as the tests' inputs (``mg.ones`` on the cpu)."""
    f64 = mg.float64
    return nn.Sequential(nn.Linear(4, 5, device=device, seed=seed, dtype=f64),
                         nn.BatchNorm1d(5, device=device, dtype=f64), nn.Tanh(),
                         nn.Linear(5, 2, device=device, seed=seed + 1, dtype=f64))


def test_registration_and_dotted_names():
    block = Block()
    assert [n for n, _ in block.named_parameters()] == ["scale", "inner.weight", "inner.bias"]
    assert [n for n, _ in block.named_buffers()] == ["count"]
    assert [n for n, _ in block.named_modules()] == ["", "inner"]
    assert "not_a_parameter" not in dict(block.named_parameters())
    for p in block.parameters():
        assert isinstance(p, nn.Parameter) and isinstance(p, Tensor)
        assert p.requires_grad and p.is_leaf


def test_parameters_are_tensors_to_the_engine():
    p = nn.Parameter(mg.asarray([1.0, 2.0]))
    y = mg.sum(p * p)
    (g,) = mg.autograd.grad(y, [p])
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    y = mg.sum(mg.exp(p))
    y.backward()
    np.testing.assert_allclose(p.grad.numpy(), np.exp([1.0, 2.0]))
    assert repr(p).startswith("Parameter(tensor(")
    assert not nn.Parameter(mg.ones((2,)), requires_grad=False).requires_grad


def test_reassigning_a_buffer_keeps_it_a_buffer():
    block = Block()
    block.count = block.count + 1
    assert dict(block.named_buffers())["count"].item() == 1.0
    del block.scale
    assert "scale" not in dict(block.named_parameters())


def test_zero_grad_and_modes():
    model = _model()
    mg.sum(model(mg.ones((3, 4)))).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    assert model.eval() is model and not any(m.training for m in model.modules())
    assert all(m.training for m in model.train().modules())


def test_sequential_container():
    model = _model()
    assert len(model) == 4 and isinstance(model[1], nn.BatchNorm1d)
    assert [type(m).__name__ for m in model] == ["Linear", "BatchNorm1d", "Tanh", "Linear"]
    x = mg.ones((3, 4))
    np.testing.assert_allclose(model(x).numpy(), model[3](model[2](model[1](model[0](x)))).numpy())


def test_state_dict_round_trip_is_exact():
    source, target = _model(seed=0), _model(seed=10)
    source(mg.asarray(np.arange(12.0).reshape(3, 4)))  # moves the running statistics
    state = source.state_dict()
    assert list(state) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                           "1.running_var", "3.weight", "3.bias"]
    weight = target[0].weight
    target.load_state_dict(state)
    assert target[0].weight is weight  # parameters keep their identity
    for (name, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    source.eval(), target.eval()
    x = mg.ones((2, 4))
    np.testing.assert_array_equal(source(x).numpy(), target(x).numpy())


def test_state_dict_loads_arrays_onto_the_module_device():
    source, target = _model(), _model("strict:device1", seed=5)
    target.load_state_dict({k: v.numpy() for k, v in source.state_dict().items()})
    for name, t in target.state_dict().items():
        assert t.device == "strict:device1", name
        np.testing.assert_array_equal(t.numpy(), source.state_dict()[name].numpy())


def test_state_dict_errors_name_the_keys_and_change_nothing():
    model = _model()
    state = model.state_dict()
    before = {k: v.numpy() for k, v in state.items()}
    missing = {k: v for k, v in state.items() if k != "1.running_var"}
    with pytest.raises(KeyError, match="missing keys '1.running_var'"):
        model.load_state_dict(missing)
    with pytest.raises(KeyError, match="unexpected keys 'head.weight'"):
        model.load_state_dict({**state, "head.weight": mg.ones((2,))})
    wrong = {**state, "0.weight": mg.zeros((4, 5)), "3.bias": mg.zeros((2,))}
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(4, 5\) in the state dict, "
                                         r"but the module expects \(5, 4\)"):
        model.load_state_dict(wrong)
    for name, t in model.state_dict().items():
        np.testing.assert_array_equal(t.numpy(), before[name], err_msg=name)
    model.load_state_dict({"3.bias": mg.zeros((2,))}, strict=False)
    np.testing.assert_array_equal(model[3].bias.numpy(), [0.0, 0.0])


def test_to_moves_parameters_and_buffers_and_keeps_their_identity():
    model = _model()
    x = mg.asarray(np.linspace(-1, 1, 12).reshape(3, 4))
    expected = model(x).numpy()  # training mode: also moves the running statistics
    mg.sum(model(x)).backward()
    params = list(model.parameters())
    assert model.to("strict:device1") is model
    assert list(model.parameters()) == params
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        assert t.device == "strict:device1", name
    assert all(p.grad.device == "strict:device1" for p in model.parameters())
    model.zero_grad()
    out = model(x.to("strict:device1"))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    mg.sum(out).backward()
    assert all(p.grad.device == "strict:device1" for p in model.parameters())
    model.to("cpu")
    assert all(t.device == "cpu" for t in model.state_dict().values())


def test_module_misuse_is_explained():
    class Forgetful(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(mg.ones((1,)))

    with pytest.raises(RuntimeError, match=r"Forgetful: call super\(\).__init__\(\) before"):
        Forgetful()
    with pytest.raises(NotImplementedError, match="Module does not define forward"):
        nn.Module()(1)
    with pytest.raises(TypeError, match="Parameter: expected a Tensor, got list"):
        nn.Parameter([1.0])
    with pytest.raises(TypeError, match="Sequential: argument 1 is a int, not a Module"):
        nn.Sequential(nn.ReLU(), 3)
    with pytest.raises(mg.DeviceError, match="unknown device 'strict:device9'"):
        _model().to("strict:device9")
