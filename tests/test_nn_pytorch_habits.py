"""What a PyTorch user reaches for: ``mg.manual_seed`` and the random functions, the default
dtype (float32 layers, an error for another input dtype), containers, loss modules,
``zero_grad(set_to_none=...)``, PyTorch state dicts, ``mg.__version__``, DLPack interop."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import multigrad as mg
from multigrad import nn
from multigrad.backends._random import default_generators
from multigrad.nn import functional as F

ROOT = Path(__file__).resolve().parent.parent
DEVICES = ["cpu", "strict:device1"]


@pytest.fixture(autouse=True)
def restore_defaults():
    """Every test leaves the default dtype as it found it, and the generators freshly seeded."""
    dtype = mg.get_default_dtype()
    yield
    mg.set_default_dtype(dtype)
    mg.manual_seed(0)


# -- seeding ------------------------------------------------------------------------------------

def _draws(device):
    """Everything that draws from the default generator of ``device``, without a seed."""
    model = nn.Sequential(nn.Linear(3, 4, device=device), nn.Dropout(0.5, device=device),
                          nn.Embedding(5, 2, device=device))
    mask = model[1](mg.ones((64,), device=device, dtype=mg.float32))
    weight = nn.init.normal_(mg.empty((2, 2), device=device, dtype=mg.float32))
    return [t.numpy() for t in (model[0].weight, model[0].bias, model[2].weight, mask, weight,
                                mg.randn(3, device=device), mg.rand(2, 2, device=device),
                                mg.randint(0, 10, (4,), device=device),
                                mg.randperm(5, device=device))]


@pytest.mark.parametrize("device", DEVICES)
def test_manual_seed_makes_every_unseeded_draw_repeat(device):
    mg.manual_seed(1234)
    first = _draws(device)
    mg.manual_seed(1234)
    again = _draws(device)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    mg.manual_seed(4321)
    assert not np.array_equal(first[0], _draws(device)[0])


def test_manual_seed_reseeds_a_generator_already_held():
    gen = mg.default_generator()
    mg.manual_seed(7)
    first = gen.normal((3,), mg.float64)
    mg.manual_seed(7)
    assert mg.default_generator() is gen
    np.testing.assert_array_equal(gen.normal((3,), mg.float64), first)
    assert default_generators()[mg.get_device("cpu")] is gen  # the registry compile reads


def test_a_layer_given_its_own_seed_ignores_the_default_generator():
    mg.manual_seed(1)
    a = nn.Linear(3, 3, seed=5).weight.numpy()
    mg.manual_seed(2)
    np.testing.assert_array_equal(nn.Linear(3, 3, seed=5).weight.numpy(), a)


def test_two_runs_of_a_seeded_script_are_identical():
    script = ("import multigrad as mg\n"
              "mg.manual_seed(0)\n"
              "model = mg.nn.Sequential(mg.nn.Linear(4, 8), mg.nn.Dropout(0.5), "
              "mg.nn.Linear(8, 2))\n"
              "out = model(mg.randn(3, 4))\n"
              "print(out.numpy().tobytes().hex())\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT),
                                                       os.environ.get("PYTHONPATH", "")]))
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, timeout=120) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert runs[0].stdout == runs[1].stdout and runs[0].stdout.strip()


def test_an_unseeded_dropout_in_a_compiled_step_draws_as_eager_does():
    # the layer holds its device's default generator, so the compiled step finds it
    def run(compiled):
        mg.manual_seed(3)
        model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5))
        step = mg.compile(lambda x: model(x)) if compiled else model
        x = mg.ones((5, 3), dtype=mg.float32)
        return [step(x).numpy() for _ in range(3)]
    for eager, compiled in zip(run(False), run(True)):
        np.testing.assert_array_equal(compiled, eager)


def test_manual_seed_checks_its_argument():
    with pytest.raises(TypeError, match="manual_seed: expected an integer seed"):
        mg.manual_seed(0.5)
    with pytest.raises(ValueError, match="manual_seed: the seed must be non-negative"):
        mg.manual_seed(-1)


# -- random tensors ---------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_random_functions_make_tensors_on_the_default_device(device):
    mg.set_default_device(device)
    try:
        x, u = mg.randn(2, 3), mg.rand((4,), dtype=mg.float64, requires_grad=True)
        i, p = mg.randint(3, 7, (50,)), mg.randperm(6)
    finally:
        mg.set_default_device(None)
    assert x.shape == (2, 3) and x.dtype == mg.float32 and x.device == device
    assert u.dtype == mg.float64 and u.requires_grad and u.is_leaf
    assert 0 <= u.numpy().min() and u.numpy().max() < 1
    assert i.dtype == mg.int64 and set(i.numpy()) <= set(range(3, 7))
    assert sorted(p.numpy()) == list(range(6)) and p.device == device


def test_random_functions_take_a_generator_and_check_it():
    gen = mg.get_device("strict:device1").random(3)
    x = mg.randn(4, generator=gen)
    assert x.device == "strict:device1"  # where the generator draws
    np.testing.assert_array_equal(
        x.numpy(), mg.randn(4, generator=mg.get_device("strict:device1").random(3)).numpy())
    with pytest.raises(ValueError, match="randn: the generator draws on strict:device1 but "
                                         "device= is cpu"):
        mg.randn(4, device="cpu", generator=gen)
    with pytest.raises(TypeError, match="rand: dtype must be float32 or float64, got int32"):
        mg.rand(3, dtype=mg.int32)
    with pytest.raises(ValueError, match="randint: high must be greater than low"):
        mg.randint(5, 5, (2,))
    with pytest.raises(ValueError, match="randn: the shape must not be negative"):
        mg.randn(-1)


# -- the default dtype --------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_layers_are_float32_by_default_on_every_device(device):
    assert mg.get_default_dtype() == mg.float32
    layers = [nn.Linear(2, 3, device=device), nn.Conv2d(1, 2, 3, device=device),
              nn.BatchNorm1d(2, device=device), nn.LayerNorm(2, device=device),
              nn.Embedding(4, 2, device=device)]
    for layer in layers:
        for name, t in list(layer.named_parameters()) + list(layer.named_buffers()):
            assert t.dtype == mg.float32, (layer, name)


def test_set_default_dtype_changes_layers_and_random_tensors_not_the_standard_functions():
    mg.set_default_dtype(mg.float64)
    assert mg.get_default_dtype() == mg.float64
    assert nn.Linear(2, 2).weight.dtype == mg.float64 and mg.randn(2).dtype == mg.float64
    # the array API's creation functions keep the device's default, as the standard says
    mg.set_default_dtype(mg.float32)
    assert mg.zeros(2).dtype == mg.float64 and mg.asarray([1.0]).dtype == mg.float64
    with pytest.raises(TypeError, match="set_default_dtype: expected multigrad.float32 or "
                                        "multigrad.float64, got multigrad.int32"):
        mg.set_default_dtype(mg.int32)


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.Linear(3, 2), (4, 3)), (lambda: nn.Conv1d(2, 2, 1), (1, 2, 5)),
    (lambda: nn.Conv2d(2, 2, 1), (1, 2, 3, 3)), (lambda: nn.BatchNorm1d(3), (4, 3)),
    (lambda: nn.BatchNorm2d(2, affine=False), (2, 2, 2, 2)), (lambda: nn.LayerNorm(3), (2, 3)),
])
def test_an_input_of_another_dtype_is_an_error_naming_the_layer_and_both_dtypes(make, shape):
    layer = make()
    data = np.ones(shape)
    with pytest.raises(TypeError, match=re.escape(repr(layer)) + r": input has dtype float64 "
                                        r"but the layer's parameters have dtype float32; cast "
                                        r"the input \(x\.astype\(multigrad\.float32\)\) or make "
                                        r"the layer with dtype=multigrad\.float64"):
        layer(mg.asarray(data))  # float64, as NumPy data is
    assert layer(mg.asarray(data, dtype=mg.float32)).dtype == mg.float32
    wide = nn.Linear(3, 2, dtype=mg.float64)
    with pytest.raises(TypeError, match="input has dtype float32 but the layer's parameters "
                                        "have dtype float64"):
        wide(mg.ones((1, 3), dtype=mg.float32))


# -- containers and loss modules ----------------------------------------------------------------

class Tower(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(3, 3, seed=k) for k in range(2)])
        self.heads = nn.ModuleDict({"a": nn.Linear(3, 1, seed=5), "b": nn.Identity(3, x=1)})

    def forward(self, x):
        for block in self.blocks:
            x = mg.tanh(block(x))
        return self.heads["a"](self.heads["b"](x))


def test_module_list_and_dict_register_their_modules():
    tower = Tower()
    assert list(tower.state_dict()) == ["blocks.0.weight", "blocks.0.bias", "blocks.1.weight",
                                        "blocks.1.bias", "heads.a.weight", "heads.a.bias"]
    x = mg.ones((2, 3), dtype=mg.float32)
    mg.sum(tower(x)).backward()
    assert all(p.grad is not None for p in tower.parameters())
    tower.to("strict:device1")
    assert all(p.device == "strict:device1" for p in tower.parameters())

    blocks = tower.blocks
    blocks.append(nn.ReLU()).extend([nn.Tanh()])
    blocks.insert(0, nn.Identity())
    assert [type(m).__name__ for m in blocks] == ["Identity", "Linear", "Linear", "ReLU", "Tanh"]
    del blocks[0]
    assert [n for n, _ in blocks.named_modules()][1:] == ["0", "1", "2", "3"]
    assert isinstance(blocks[1:3], nn.ModuleList) and len(blocks[1:3]) == 2
    assert isinstance(blocks[-1], nn.Tanh)
    with pytest.raises(IndexError, match="ModuleList: index 9 is out of range for 4 module"):
        blocks[9]
    with pytest.raises(TypeError, match="ModuleList: module 4 is a int, not a Module"):
        blocks.append(3)

    heads = tower.heads
    assert list(heads) == ["a", "b"] and "a" in heads and len(heads) == 2
    heads["c"] = nn.Sigmoid()
    assert isinstance(heads.pop("c"), nn.Sigmoid) and list(heads.keys()) == ["a", "b"]
    with pytest.raises(KeyError, match="ModuleDict: a key must be a non-empty string"):
        heads["a.b"] = nn.ReLU()
    assert isinstance(nn.Sequential(nn.ReLU(), nn.Tanh(), nn.ReLU())[:2], nn.Sequential)


def test_loss_modules_call_the_functions():
    logits = mg.asarray([[0.5, -1.0, 2.0], [0.1, 0.2, 0.3]], dtype=mg.float32)
    labels = mg.asarray([2, 0])
    probs = mg.asarray([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]], dtype=mg.float32)
    cases = [
        (nn.CrossEntropyLoss(label_smoothing=0.1), (logits, labels),
         F.cross_entropy(logits, labels, label_smoothing=0.1)),
        (nn.NLLLoss(reduction="sum"), (mg.log_softmax(logits), labels),
         F.nll_loss(mg.log_softmax(logits), labels, reduction="sum")),
        (nn.MSELoss(reduction="none"), (logits, probs), F.mse_loss(logits, probs, "none")),
        (nn.BCEWithLogitsLoss(pos_weight=mg.asarray([2.0], dtype=mg.float32)), (logits, probs),
         F.binary_cross_entropy_with_logits(logits, probs,
                                            pos_weight=mg.asarray([2.0], dtype=mg.float32))),
    ]
    for module, args, expected in cases:
        np.testing.assert_array_equal(module(*args).numpy(), expected.numpy())
    assert "pos_weight" in dict(cases[3][0].named_buffers())
    with pytest.raises(ValueError, match="MSELoss: reduction must be 'mean', 'sum' or 'none'"):
        nn.MSELoss(reduction="avg")


def test_zero_grad_can_keep_zeros():
    model = nn.Linear(2, 2, seed=0)
    mg.sum(model(mg.ones((1, 2), dtype=mg.float32))).backward()
    model.zero_grad(set_to_none=False)
    for p in model.parameters():
        assert p.grad is not None and p.grad.dtype == p.dtype
        np.testing.assert_array_equal(p.grad.numpy(), np.zeros(p.shape))
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


# -- PyTorch state dicts ------------------------------------------------------------------------

class DLPackOnly:
    """A producer multigrad knows only through DLPack, as a PyTorch or JAX tensor."""

    def __init__(self, array):
        self.array, self.shape = array, array.shape

    def __dlpack__(self, **kwargs):
        return self.array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()


def _torch_style_state(rng):
    """What ``torch.nn.Sequential(Linear(3, 4), BatchNorm1d(4)).state_dict()`` holds, as
    arrays: BatchNorm's batch counter included."""
    return OrderedDict([
        ("0.weight", rng.standard_normal((4, 3)).astype(np.float32)),
        ("0.bias", rng.standard_normal(4).astype(np.float32)),
        ("1.weight", np.ones(4, np.float32)), ("1.bias", np.zeros(4, np.float32)),
        ("1.running_mean", rng.standard_normal(4).astype(np.float32)),
        ("1.running_var", np.full(4, 2.0, np.float32)),
        ("1.num_batches_tracked", np.array(7, dtype=np.int64)),
    ])


def test_a_pytorch_style_state_dict_loads(rng):
    state = _torch_style_state(rng)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    model.load_state_dict({k: mg.from_dlpack(DLPackOnly(v)) for k, v in state.items()})
    np.testing.assert_array_equal(model[0].weight.numpy(), state["0.weight"])
    np.testing.assert_array_equal(model[1].running_var.numpy(), state["1.running_var"])
    # only BatchNorm's counter is forgiven: other unknown names still fail
    with pytest.raises(KeyError, match=r"unexpected keys '0\.num_batches_tracked'"):
        model.load_state_dict({**state, "0.num_batches_tracked": np.array(1)})


def test_a_real_pytorch_state_dict_loads():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed here")
    torch.manual_seed(0)
    source = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    source(torch.randn(5, 3))  # moves the running statistics and the batch counter
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).eval()
    model.load_state_dict({k: mg.from_dlpack(v) for k, v in source.state_dict().items()})
    x = torch.randn(2, 3)
    expected = source.eval()(x).detach().numpy()
    # float32 both, summed in different orders: rounding, relative to the outputs' scale
    np.testing.assert_allclose(model(mg.from_dlpack(x)).numpy(), expected, rtol=1e-5, atol=1e-6)


# -- interop and metadata -------------------------------------------------------------------------

def test_from_dlpack_of_another_library_is_a_cpu_tensor_sharing_memory():
    host = np.arange(3.0)
    t = mg.from_dlpack(DLPackOnly(host))
    assert t.device == "cpu"
    host[0] = 7.0
    assert t.numpy()[0] == 7.0  # zero-copy
    copied = mg.from_dlpack(DLPackOnly(host), copy=True)
    host[1] = 9.0
    np.testing.assert_array_equal(copied.numpy(), [7.0, 1.0, 2.0])
    moved = mg.from_dlpack(DLPackOnly(host), device="strict:device1")
    assert moved.device == "strict:device1"
    np.testing.assert_array_equal(moved.numpy(), [7.0, 9.0, 2.0])


@pytest.mark.parametrize("library", ["torch", "jax"])
def test_from_dlpack_of_torch_and_jax_and_back(library):
    lib = pytest.importorskip(library, reason=f"{library} is not installed here")
    if library == "torch":
        foreign = lib.arange(4.0, dtype=lib.float64)
        back = lib.from_dlpack
    else:
        foreign = lib.numpy.arange(4.0)
        back = lib.dlpack.from_dlpack
    t = mg.from_dlpack(foreign)
    assert t.device == "cpu" and t.dtype in (mg.float32, mg.float64)
    np.testing.assert_array_equal(t.numpy(), np.arange(4.0))
    if library == "torch":  # (JAX arrays are immutable)
        foreign[0] = 5.0
        assert t.numpy()[0] == 5.0  # zero-copy
    np.testing.assert_array_equal(np.asarray(back(mg.tensor([1.0, 2.0]))), [1.0, 2.0])


def test_version_is_the_package_metadata_source():
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|rc\d+)?", mg.__version__)
    text = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in text
    assert 'version = {attr = "multigrad.__version__"}' in text


def test_dir_of_functional_lists_its_functions_not_its_imports():
    listed = dir(F)
    assert listed == sorted(F.__all__)
    for imported in ("Tensor", "no_grad", "asarray", "make_generator", "annotations"):
        assert imported not in listed
