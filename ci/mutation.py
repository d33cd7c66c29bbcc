"""Mutation testing of ``multigrad/ops`` with cosmic-ray: do the tests notice a broken rule?

    python ci/mutation.py                       # every module of multigrad/ops
    python ci/mutation.py elementwise linalg    # some of them (file names, without .py)
    python ci/mutation.py --report              # the summary of the last session again
    python ci/mutation.py --retest elementwise  # its survivors again, after adding tests

cosmic-ray (the ``mutation`` extra) writes each mutant over its module and runs a test command;
here that command asks a pytest process started once (``ci/mutation_server.py``) to run, in a
fork with the mutated functions swapped in, the tests that execute the mutated function, fastest
first, stopping at the first failure. The tests are the op-level ones (``TEST_FILES``), on
numpy float64 first (where the derivative checks run), then on the other backends (the strict
ones catch a rule that works on NumPy by accident); ``--device`` narrows them.

The session (``.mutation/`` by default: cosmic-ray's database per module, the map of test ->
functions, the server's log) survives an interruption: run the same command again to go on
where it stopped (``--fresh`` starts the given modules over). The summary counts killed, survived and timed-out mutants per
module and writes each survivor with its diff to ``.mutation/survivors-MODULE.txt``; the ones
judged equivalent are listed in ``ci/mutation-survivors.md``.

The modules' files are rewritten while it runs: it refuses to start when ``multigrad/ops`` has
uncommitted changes, and restores the files from git when it ends or is interrupted.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPS = ROOT / "multigrad" / "ops"

TEST_FILES = [
    "tests/test_op_gradients.py", "tests/test_special_points.py", "tests/test_properties.py",
    "tests/test_elementwise_special.py", "tests/test_reductions_special.py",
    "tests/test_linalg_special.py", "tests/test_indexing_special.py", "tests/test_fft_special.py",
    "tests/test_special.py", "tests/test_special_rules.py", "tests/test_higher_order.py",
    "tests/test_errors.py", "tests/test_tensor_methods.py", "tests/test_registry.py",
    "tests/test_complex.py", "tests/test_vmap.py", "tests/test_vmap_ops.py",
    # creation.py's asarray, copies and DLPack; nn.py's functions at extreme values
    "tests/test_conversion.py", "tests/test_nn_stability.py",
]

# the mutations, as mutmut makes them: each operator to its nearest other (+ to -, * to /, < to
# <=, == to !=...), each number +-1, True/False, and/or, a `not` added or removed, a loop run
# zero times, an exception type replaced, a decorator removed; cosmic-ray's full cross product of
# operators (11 replacements for every +) would give five times as many for little more
KEPT_OPERATORS = [
    "ReplaceBinaryOperator_(Add_Sub|Sub_Add|Mul_Div|Div_Mul|FloorDiv_Div|Mod_Div|Pow_Mul"
    "|LShift_RShift|RShift_LShift|BitAnd_BitOr|BitOr_BitAnd|BitXor_BitAnd)",
    "ReplaceComparisonOperator_(Lt_LtE|LtE_Lt|Gt_GtE|GtE_Gt|Eq_NotEq|NotEq_Eq|Is_IsNot|IsNot_Is)",
    "ReplaceUnaryOperator_(Delete_USub|UAdd_USub|Delete_Not|Delete_Invert)",
    "NumberReplacer", "ReplaceTrueWithFalse", "ReplaceFalseWithTrue", "ReplaceAndWithOr",
    "ReplaceOrWithAnd", "AddNot", "ZeroIterationForLoop", "ReplaceBreakWithContinue",
    "ReplaceContinueWithBreak", "ExceptionReplacer", "RemoveDecorator",
]


def _config(modules, timeout) -> str:
    kept = "|".join(KEPT_OPERATORS)
    paths = ", ".join(f'"{(OPS / f"{m}.py").relative_to(ROOT)}"' for m in modules)
    client = f"{sys.executable} ci/mutation_client.py"
    return f"""[cosmic-ray]
module-path = [{paths}]
timeout = {timeout}
excluded-modules = []
test-command = "{client}"

[cosmic-ray.distributor]
name = "local"

[cosmic-ray.filters.operators-filter]
exclude-operators = ['core/(?!({kept})$)']
"""


def _tool(*args):
    """Run a cosmic-ray command of this environment from the repository root."""
    binary = Path(sys.executable).parent / args[0]
    subprocess.run([str(binary), *args[1:]], cwd=ROOT, check=True)


def _map_key(device: str) -> str:
    """The map of test -> functions holds while the ops, the tests and the device do."""
    digest = hashlib.sha256(device.encode())
    for path in sorted([*OPS.glob("*.py"), *(ROOT / "tests").rglob("*.py")]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _start_server(work: Path, device: str, timeout: float):
    env = dict(os.environ, MUTATION_SOCKET=str(work / "server.sock"),
               MUTATION_MAX_SECONDS=str(max(int(timeout) - 30, 1)),
               MUTATION_MAP=str(work / f"map-{_map_key(device)}.json"),
               PYTHONPATH=os.pathsep.join([str(ROOT / "ci"), os.environ.get("PYTHONPATH", "")]))
    (work / "server.sock").unlink(missing_ok=True)
    log = open(work / "server.log", "a")
    tests = [t for t in TEST_FILES if (ROOT / t).exists()]
    server = subprocess.Popen(
        # every mark: the slow one here holds vmap's case per op spec (tests/test_vmap_ops.py),
        # the only tests of most paths of the batching rules (the normal run takes one spec
        # per primitive, and the fourth run's batching mutants survived by the hundred)
        [sys.executable, "-m", "pytest", *tests, "-q", "-p", "no:cacheprovider", "-m", "",
         "-p", "mutation_server", *(["--device", device] if device else [])],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    print(f"starting the test server (log: {work / 'server.log'}; a first run maps which tests "
          "execute which functions, a few minutes)", flush=True)
    while not (work / "server.sock").exists():
        if server.poll() is not None:
            sys.exit(f"the test server stopped (exit {server.returncode}): see {log.name}")
        time.sleep(1)
    return server, env


def _stop_server(server, env):
    import socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(env["MUTATION_SOCKET"])
            conn.sendall(b"quit")
            conn.recv(16)
        server.wait(timeout=30)
    except OSError:
        server.terminate()


def _ops_tree() -> str:
    """The git object of multigrad/ops in HEAD."""
    return subprocess.run(["git", "rev-parse", "HEAD:multigrad/ops"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()


def _restore(pristine: dict, tree: str):
    """Put back the modules as they were before the run (cosmic-ray may have left a mutant), and
    say so if HEAD's multigrad/ops changed meanwhile (a ``git commit -a`` takes in the mutant
    on disk at that moment)."""
    for path, text in pristine.items():
        path.write_text(text)
    shutil.rmtree(OPS / "__pycache__", ignore_errors=True)
    if _ops_tree() != tree:
        print("WARNING: multigrad/ops changed in git during the run: a commit may have taken "
              "in a mutant (compare with `git diff HEAD@{1} -- multigrad/ops`)", file=sys.stderr)


def _verdict(output: str) -> str:
    """The server's verdict on a mutant (anything else, say a client that found no server, is
    an error, not a kill)."""
    for verdict in ("killed", "survived", "timeout", "invalid"):
        if output.startswith(verdict):
            return verdict
    return "error"


def report(work: Path) -> int:
    """Print mutants per module (killed / survived / timeout) and write the survivors' diffs."""
    rows = []
    for path in sorted(work.glob("session-*.sqlite")):
        rows += sqlite3.connect(path).execute(
            "SELECT m.module_path, m.operator_name, m.start_pos_row, m.start_pos_col, r.output,"
            " r.diff, r.worker_outcome FROM mutation_specs m"
            " LEFT JOIN work_results r ON m.job_id = r.job_id").fetchall()
    counts, survivors = {}, {}
    for module, operator, row, col, output, diff, outcome in rows:
        name = Path(module).stem
        tally = counts.setdefault(name, Counter())
        if outcome is None:
            tally["pending"] += 1
        elif outcome == "SKIPPED":
            continue
        else:
            verdict = _verdict((output or "").strip())
            tally[verdict] += 1
            if verdict == "survived":
                survivors.setdefault(name, []).append((row, col, operator, output, diff))
    print(f"{'module':28} {'mutants':>7} {'killed':>7} {'survived':>8} {'timeout':>7} "
          f"{'invalid':>7} {'error':>5} {'pending':>7} {'killed %':>8}")
    for name, tally in sorted(counts.items()):
        # killed % = (killed + timeout) / (killed + survived + timeout); the invalid ones (parso
        # reads a positional-only ``/`` as a division) do not compile and are not mutants
        done = tally["killed"] + tally["survived"] + tally["timeout"]
        rate = f"{100 * (done - tally['survived']) / done:.1f}" if done else "-"
        print(f"{name:28} {done:7d} {tally['killed']:7d} {tally['survived']:8d} "
              f"{tally['timeout']:7d} {tally['invalid']:7d} {tally['error']:5d} "
              f"{tally['pending']:7d} {rate:>8}")
    for name, found in survivors.items():
        with open(work / f"survivors-{name}.txt", "w") as out:
            for row, col, operator, output, diff in sorted(found):
                out.write(f"== {name}.py:{row}:{col} {operator}\n{(output or '').strip()}\n"
                          f"{diff}\n")
    return 0


def _retest(db: Path, env, timeout):
    """Test again the mutants that survived or timed out (after tests were added for them)."""
    from cosmic_ray.mutating import mutate_and_test
    from cosmic_ray.work_db import WorkDB, use_db
    os.environ.update(env)  # the test command's environment
    os.chdir(ROOT)  # the mutations' paths are relative to it
    with use_db(str(db), WorkDB.Mode.open) as work_db:
        for item, result in work_db.completed_work_items:
            if result.output is None or _verdict(result.output) not in ("survived", "timeout"):
                continue
            result = mutate_and_test(item.mutations, f"{sys.executable} ci/mutation_client.py",
                                     timeout)
            work_db.set_result(item.job_id, result)
            mutation = item.mutations[0]
            print(f"{mutation.module_path}:{mutation.start_pos[0]} {mutation.operator_name}: "
                  f"{(result.output or '').strip()}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", help="modules of multigrad/ops (default: all)")
    parser.add_argument("--device", default="",
                        help="run only these backend cases (as pytest --device; default: all)")
    parser.add_argument("--work", default=str(ROOT / ".mutation"), help="the session's folder")
    parser.add_argument("--timeout", type=float, default=600,
                        help="cosmic-ray's limit per mutant, in seconds (the server's own limit, "
                             "20 times the tests' unmutated time plus 30 s, at most this less "
                             "30 s, comes first)")
    parser.add_argument("--fresh", action="store_true", help="start a new session")
    parser.add_argument("--report", action="store_true", help="only print the last summary")
    parser.add_argument("--retest", action="store_true",
                        help="test the survivors and timeouts of the last session again")
    args = parser.parse_args(argv)
    work = Path(args.work)
    if args.report:
        return report(work)
    modules = args.modules or sorted(p.stem for p in OPS.glob("*.py") if p.stem != "__init__")
    missing = [m for m in modules if not (OPS / f"{m}.py").exists()]
    if missing:
        parser.error(f"no such module in multigrad/ops: {', '.join(missing)}")
    if subprocess.run(["git", "diff", "--quiet", "--", str(OPS)], cwd=ROOT).returncode:
        parser.error("multigrad/ops has uncommitted changes: commit or stash them first "
                     "(the mutants are written over the files and restored from git)")
    work.mkdir(parents=True, exist_ok=True)
    sessions = []
    for module in modules:  # a session per module: each can be resumed or redone on its own
        config, db = work / f"config-{module}.toml", work / f"session-{module}.sqlite"
        new_config = _config([module], args.timeout)
        if args.fresh or not db.exists() or not config.exists() or config.read_text() != new_config:
            db.unlink(missing_ok=True)
            config.write_text(new_config)
            _tool("cosmic-ray", "init", str(config), str(db))
            _tool("cr-filter-operators", str(db), str(config))
        sessions.append((module, config, db))
    pristine, tree = {path: path.read_text() for path in OPS.glob("*.py")}, _ops_tree()
    server, env = _start_server(work, args.device, args.timeout)
    try:
        for module, config, db in sessions:
            start = time.monotonic()
            if args.retest:
                _retest(db, env, args.timeout)
            else:
                subprocess.run([str(Path(sys.executable).parent / "cosmic-ray"), "exec",
                                str(config), str(db)], cwd=ROOT, env=env, check=True)
            print(f"{module}: ran in {time.monotonic() - start:.0f} s", flush=True)
    finally:
        _restore(pristine, tree)
        _stop_server(server, env)
    return report(work)

if __name__ == "__main__":
    sys.exit(main())
