"""multigrad.save_safetensors / load_safetensors: exact round trips on every device, state dicts
of models, PyTorch's weights through a file both ways (where torch is installed), and named
errors for what a safetensors file cannot hold, for damaged files and for a missing extra."""

from __future__ import annotations

import importlib.util
import json
import struct
import subprocess
import sys

import numpy as np
import pytest

import multigrad as mg
from multigrad import nn

from test_ci_scripts import ROOT

INSTALL = "python -m pip install -e '.[test]'"


@pytest.fixture(autouse=True)
def require_safetensors():
    """Fail (never skip) where the test extra is missing: CI installs it, so a skip would hide
    an interop nobody tests."""
    if importlib.util.find_spec("safetensors") is None:
        pytest.fail(f"these tests need safetensors: install the test extra with {INSTALL}")


VALUES = {
    "w": np.array([[0.1, -2.5, 3.0], [1e-30, -0.0, 7.25]]),
    "scalar": np.array(np.pi),
    "empty": np.zeros((0, 3)),
}


@pytest.mark.parametrize("target", ["cpu", "strict:device1"])
def test_round_trip_is_exact_across_devices(backend, target, tmp_path):
    state = {k: backend.tensor(v) for k, v in VALUES.items()}
    state["ints"] = backend.tensor(np.array([[-3, 2**40]]), dtype=mg.int64)
    state["bytes"] = backend.tensor(np.array([0, 255]), dtype=mg.uint8)
    state["mask"] = backend.tensor(np.array([True, False]))
    state["complex"] = backend.tensor(np.array([1 + 2j, -0.5j]), dtype=mg.complex64)
    mg.save_safetensors(state, tmp_path / "w.safetensors")
    back = mg.load_safetensors(tmp_path / "w.safetensors", device=target)
    assert list(back) == sorted(state)
    for key, t in state.items():
        got = back[key]
        assert got.device == target and got.dtype == t.dtype and got.shape == t.shape, key
        assert not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), t.numpy())
    np.testing.assert_array_equal(np.signbit(back["w"].numpy()), np.signbit(VALUES["w"]))


def test_a_transposed_view_is_saved_in_its_own_order(backend, tmp_path):
    # safetensors writes the memory behind an array: a strided view must be copied first
    t = mg.permute_dims(backend.tensor(np.arange(6.0).reshape(2, 3)), (1, 0))
    sliced = backend.tensor(np.arange(10.0))[::3]
    mg.save_safetensors({"t": t, "sliced": sliced}, tmp_path / "t.safetensors")
    back = mg.load_safetensors(tmp_path / "t.safetensors", device=backend.device)
    np.testing.assert_array_equal(back["t"].numpy(), [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]])
    np.testing.assert_array_equal(back["sliced"].numpy(), [0.0, 3.0, 6.0, 9.0])


def test_without_device_tensors_go_to_the_default_device(tmp_path):
    mg.save_safetensors({"w": mg.ones((2,))}, tmp_path / "w.safetensors")
    mg.set_default_device("strict:device1")
    try:
        back = mg.load_safetensors(tmp_path / "w.safetensors")
    finally:
        mg.set_default_device("cpu")
    assert back["w"].device == "strict:device1"


def _model(seed: int):
    return nn.Sequential(nn.Conv2d(1, 3, 3, seed=seed), nn.ReLU(), nn.Flatten(),
                         nn.Linear(3 * 4 * 4, 5, seed=seed + 1))


@pytest.mark.parametrize("target", ["cpu", "strict:device1"])
def test_a_models_state_dict_loads_into_another_model(target, tmp_path):
    trained, fresh = _model(0), _model(10).to(target)
    x = mg.get_device("cpu").random(0).normal((2, 1, 6, 6), mg.float32)
    mg.save_safetensors(trained.state_dict(), tmp_path / "m.safetensors",
                        metadata={"epoch": "3"})
    fresh.load_state_dict(mg.load_safetensors(tmp_path / "m.safetensors", device=target))
    np.testing.assert_array_equal(fresh(mg.asarray(x, device=target)).numpy(),
                                  trained(mg.asarray(x)).numpy())
    import safetensors
    with safetensors.safe_open(tmp_path / "m.safetensors", framework="numpy") as f:
        assert f.metadata() == {"epoch": "3"}


# -- what a safetensors file cannot hold ----------------------------------------------------

@pytest.mark.parametrize("state, message", [
    ({"opt": {"state": {}}}, r"'opt' is a dict; a safetensors file holds a flat mapping of "
                             r"names to tensors, so nested state .* multigrad.save"),
    ({"layers": [mg.ones(2)]}, r"'layers' is a list; .*multigrad.save"),
    ({"step": 3}, r"'step' is a int, not a tensor; .* metadata=\{...\} \(strings\), or use "
                  r"multigrad.save"),
    ({"z": mg.ones(2, dtype=mg.complex128)}, r"'z' is complex128, which safetensors cannot hold"),
    ({0: mg.ones(2)}, r"key 0 is a int; a safetensors file names its tensors with strings"),
])
def test_what_does_not_fit_is_refused_and_nothing_is_written(state, message, tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"the previous file")
    with pytest.raises(TypeError, match=message):
        mg.save_safetensors({"fine": mg.ones(2), **state}, path)
    assert path.read_bytes() == b"the previous file"
    assert list(tmp_path.iterdir()) == [path]


def test_a_state_dict_must_be_a_mapping_and_metadata_strings(tmp_path):
    with pytest.raises(TypeError, match=r"expected a mapping of names to tensors .* got list"):
        mg.save_safetensors([mg.ones(2)], tmp_path / "w.safetensors")
    with pytest.raises(TypeError, match=r"metadata entry 'epoch': 3 is not a pair of strings"):
        mg.save_safetensors({"w": mg.ones(2)}, tmp_path / "w.safetensors", metadata={"epoch": 3})
    assert not list(tmp_path.iterdir())


def test_a_file_that_cannot_be_written_is_an_os_error(tmp_path):
    with pytest.raises(OSError, match=r"save_safetensors: cannot write .*missing.w\.safetensors"):
        mg.save_safetensors({"w": mg.ones(2)}, tmp_path / "missing" / "w.safetensors")


def _handmade(path, dtype: str, nbytes: int) -> None:
    """A well-formed safetensors file holding one tensor 'w' of ``dtype`` (its format: the
    header's length, a JSON header, the data)."""
    header = json.dumps({"w": {"dtype": dtype, "shape": [nbytes // 2],
                               "data_offsets": [0, nbytes]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(nbytes))


@pytest.mark.parametrize("code", ["BF16", "F16"])
def test_a_dtype_multigrad_lacks_is_named(code, tmp_path):
    _handmade(tmp_path / "h.safetensors", code, 4)
    with pytest.raises(mg.SerializationError, match=rf"tensor 'w' in .*h.safetensors is {code}, "
                                                    r"which multigrad has no dtype for"):
        mg.load_safetensors(tmp_path / "h.safetensors")


def test_a_damaged_file_is_a_serialization_error_naming_it(tmp_path):
    _handmade(tmp_path / "ok.safetensors", "U8", 4)
    data = (tmp_path / "ok.safetensors").read_bytes()
    for name, content in [("garbage", b"\x10" + bytes(7) + b"{not json}"),
                          ("truncated", data[:-2]), ("empty", b"")]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(mg.SerializationError, match=rf"{name} is not a readable "
                                                        "safetensors file"):
            mg.load_safetensors(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        mg.load_safetensors(tmp_path / "missing.safetensors")
    with pytest.raises(mg.DeviceError, match="load_safetensors: cannot load onto device 'tpu'"):
        mg.load_safetensors(tmp_path / "ok.safetensors", device="tpu")


# -- the optional extra ---------------------------------------------------------------------

def test_without_the_extra_both_functions_name_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "safetensors", None)  # import safetensors now fails
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    for call in (lambda: mg.save_safetensors({"w": mg.ones(2)}, tmp_path / "w.safetensors"),
                 lambda: mg.load_safetensors(tmp_path / "w.safetensors")):
        with pytest.raises(ImportError, match=r"needs the safetensors package, which is "
                           r"not installed: pip install 'multigrad-xp\[safetensors\]'"):
            call()
    assert not list(tmp_path.iterdir())


def test_multigrad_imports_without_its_optional_extras():
    code = ("import sys\n"
            "for name in ('safetensors', 'tqdm', 'mkdocs'):\n"
            "    sys.modules[name] = None  # as if not installed\n"
            "import multigrad\n"
            "print(multigrad.ones(2).shape)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(2,)"


# -- PyTorch's weights, both ways -----------------------------------------------------------

def _torch_and_multigrad_models():
    torch = pytest.importorskip("torch", reason="torch is not installed (it is no test "
                                                "dependency): the interop with PyTorch is "
                                                "untested here")
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                 torch.nn.Linear(3 * 4 * 4, 5))
    return torch, theirs, _model(0)


def _outputs(torch, theirs, ours):
    x = np.random.default_rng(0).normal(size=(2, 1, 6, 6)).astype(np.float32)
    with torch.no_grad():
        return theirs(torch.from_numpy(x)).numpy(), ours(mg.asarray(x)).numpy()


def test_torch_weights_load_into_a_multigrad_model(tmp_path):
    torch, theirs, ours = _torch_and_multigrad_models()
    from safetensors.torch import save_file
    expected, before = _outputs(torch, theirs, ours)
    assert not np.allclose(before, expected)  # the two start from different weights
    save_file(theirs.state_dict(), tmp_path / "torch.safetensors")
    ours.load_state_dict(mg.load_safetensors(tmp_path / "torch.safetensors"))
    np.testing.assert_allclose(_outputs(torch, theirs, ours)[1], expected, rtol=1e-5, atol=1e-6)


def test_multigrad_weights_load_into_a_torch_model(tmp_path):
    torch, theirs, ours = _torch_and_multigrad_models()
    from safetensors.torch import load_file
    before, expected = _outputs(torch, theirs, ours)
    assert not np.allclose(before, expected)
    mg.save_safetensors(ours.state_dict(), tmp_path / "mg.safetensors")
    theirs.load_state_dict(load_file(tmp_path / "mg.safetensors"))
    np.testing.assert_allclose(_outputs(torch, theirs, ours)[0], expected, rtol=1e-5, atol=1e-6)
