"""multigrad.save / multigrad.load: exact round trips across devices, state dicts of modules and
optimisers, and named errors for malformed files, unsavable objects and missing devices."""

from __future__ import annotations

import json
import pickle
import struct

import numpy as np
import pytest

import multigrad as mg
from multigrad import optim
from multigrad.serialization import MAGIC

TARGETS = ["cpu", "strict:device1"]


VALUES = {
    "w": np.array([[0.1, -2.5, 3.0], [1e-30, -0.0, 7.25]]),
    "scalar": np.array(np.pi),
    "empty": np.zeros((0, 3)),
}


@pytest.mark.parametrize("target", TARGETS)
def test_round_trip_is_exact_across_devices(backend, target, tmp_path):
    tensors = {k: backend.tensor(v) for k, v in VALUES.items()}
    obj = {"params": tensors, "ints": backend.tensor(np.array([[-3, 2**40]]), dtype=mg.int64),
           "mask": backend.tensor(np.array([True, False])), 7: [1, 2.5, None, "text", True],
           "pair": (backend.tensor(VALUES["w"], requires_grad=True), float("inf"))}
    mg.save(obj, tmp_path / "obj.mg")
    back = mg.load(tmp_path / "obj.mg", device=target)
    assert set(back) == {"params", "ints", "mask", 7, "pair"}
    for key, t in tensors.items():
        got = back["params"][key]
        assert got.device == target and got.dtype == t.dtype and got.shape == t.shape
        np.testing.assert_array_equal(got.numpy(), t.numpy())
    assert back["ints"].dtype == mg.int64 and back["ints"].numpy().tolist() == [[-3, 2**40]]
    assert back["mask"].dtype == mg.bool and back["mask"].numpy().tolist() == [True, False]
    assert back[7] == [1, 2.5, None, "text", True] and type(back[7][0]) is int
    assert isinstance(back["pair"], tuple) and back["pair"][1] == float("inf")
    assert back["pair"][0].requires_grad and back["pair"][0].is_leaf
    assert not back["params"]["w"].requires_grad
    # bit-exact: the sign of -0.0 and a denormal-sized value survive
    assert np.signbit(back["params"]["w"].numpy()[1, 1])


def test_default_device_is_the_one_saved_from(tmp_path):
    mg.save({"a": mg.tensor([1.0], device="strict:device1"), "b": mg.tensor([2.0])},
            tmp_path / "f")
    back = mg.load(tmp_path / "f")
    assert back["a"].device == "strict:device1" and back["b"].device == "cpu"


def test_module_state_dict_moves_to_another_device(tmp_path):
    model = mg.nn.Linear(3, 2)
    mg.save(model.state_dict(), tmp_path / "linear.mg")
    state = mg.load(tmp_path / "linear.mg", device="strict:device1")
    copy = mg.nn.Linear(3, 2).to("strict:device1")
    copy.load_state_dict(state)
    assert copy.weight.device == "strict:device1"
    np.testing.assert_array_equal(copy.weight.numpy(), model.weight.numpy())
    np.testing.assert_array_equal(copy.bias.numpy(), model.bias.numpy())


def test_optimiser_state_dict_round_trips(tmp_path):
    p = mg.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.Adam([p], lr=0.1, betas=(0.8, 0.9))
    mg.sum(p ** 3).backward()
    opt.step()
    mg.save(opt.state_dict(), tmp_path / "adam.mg")
    state = mg.load(tmp_path / "adam.mg", device="strict:device1")
    assert state["param_groups"][0]["betas"] == (0.8, 0.9) and state["state"][0]["step"] == 1
    q = mg.tensor(p.numpy(), device="strict:device1", requires_grad=True)
    resumed = optim.Adam([q])
    resumed.load_state_dict(state)
    for key in ("exp_avg", "exp_avg_sq"):
        assert resumed.state[q][key].device == "strict:device1"
        np.testing.assert_array_equal(resumed.state[q][key].numpy(), opt.state[p][key].numpy())


def test_loading_runs_no_code_from_the_file(tmp_path):
    witness = tmp_path / "created-by-unpickling"

    class Payload:
        def __reduce__(self):
            return (open, (str(witness), "w"))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ValueError, match="evil.pt is malformed: not a multigrad file"):
        mg.load(tmp_path / "evil.pt")
    assert not witness.exists()


# -- malformed and mismatching files ----------------------------------------------------------

def _write(path, header: dict, payload: bytes = b"") -> None:
    text = json.dumps(header).encode()
    path.write_bytes(MAGIC + struct.pack("<Q", len(text)) + text + payload)


def _header(**entry):
    tensor = {"dtype": "float32", "shape": [3, 4], "device": "cpu", **entry}
    return {"format": "multigrad", "version": 1, "tensors": [tensor],
            "tree": {"dict": [["layer", {"dict": [["weight", {"tensor": 0}]]}]]}}


@pytest.mark.parametrize("header, payload, match", [
    (_header(), b"\0" * 20, r"tensor \['layer'\]\['weight'\]: expected 48 bytes of float32 data "
                            r"for shape \(3, 4\), the file has 20 \(it is truncated\)"),
    (_header(), b"\0" * 50, "2 unexpected byte"),
    (_header(dtype="float8"), b"", r"\['layer'\]\['weight'\]: unknown dtype 'float8'"),
    (_header(shape=[3, -4]), b"", r"\['weight'\]: shape \[3, -4\] is not a list of non-negative"),
    (_header(requires_grad="yes"), b"", "requires_grad must be true or false"),
    ({**_header(), "version": 9}, b"", "format version 9; this multigrad reads version 1"),
    ({**_header(), "tree": {"tensor": 0, "list": []}}, b"", "expected an object with one of"),
    ({**_header(), "tree": {"dict": [["a", {"tensor": 1}]]}}, b"",
     r"the tree refers to tensors \[1\], the header lists 1"),
    ({**_header(), "tree": {"set": []}}, b"", "unknown entry 'set'"),
])
def test_malformed_files_name_the_key_and_what_was_expected(tmp_path, header, payload, match):
    _write(tmp_path / "bad.mg", header, payload)
    with pytest.raises(ValueError, match="bad.mg is malformed: .*" + match):
        mg.load(tmp_path / "bad.mg")


def test_damaged_headers_are_named(tmp_path):
    path = tmp_path / "f.mg"
    path.write_bytes(MAGIC + struct.pack("<Q", 100) + b"{}")
    with pytest.raises(ValueError, match="the header should have 100 bytes, the file has 2"):
        mg.load(path)
    path.write_bytes(MAGIC + struct.pack("<Q", 3) + b"{x}")
    with pytest.raises(ValueError, match="the header is not valid JSON"):
        mg.load(path)
    mg.save({"w": mg.zeros((3, 4))}, path)
    path.write_bytes(path.read_bytes()[:-1])  # the last byte of data lost
    with pytest.raises(ValueError, match=r"tensor \['w'\]: expected 96 bytes"):
        mg.load(path)


def test_loading_onto_a_missing_device_says_so(tmp_path):
    mg.save({"w": mg.zeros((2,))}, tmp_path / "ok.mg")
    with pytest.raises(mg.DeviceError, match="load: cannot load onto device 'cuda:7'"):
        mg.load(tmp_path / "ok.mg", device="cuda:7")
    _write(tmp_path / "gpu.mg", _header(device="cuda:7"), b"\0" * 48)
    with pytest.raises(mg.DeviceError, match=r"tensor \['layer'\]\['weight'\] was saved on "
                                             r"'cuda:7'.*pass device="):
        mg.load(tmp_path / "gpu.mg")
    assert mg.load(tmp_path / "gpu.mg", device="cpu")["layer"]["weight"].shape == (3, 4)


@pytest.mark.parametrize("obj, match", [
    ({"a": {"b": object()}}, r"save: \['a'\]\['b'\] is a object"),
    ({"a": [1, {2.5: 1}]}, r"save: key 2.5 at \['a'\]\[1\] is a float"),
])
def test_unsavable_objects_are_named_and_nothing_is_written(tmp_path, obj, match):
    path = tmp_path / "keep.mg"
    mg.save({"old": 1}, path)
    with pytest.raises(TypeError, match=match):
        mg.save(obj, path)
    assert mg.load(path) == {"old": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mg"]
