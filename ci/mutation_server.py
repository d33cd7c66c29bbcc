"""pytest plugin behind ``ci/mutation.py``: collect once, then test each mutant in a fork.

cosmic-ray tests a mutant by writing it over its module and running a command. Starting pytest
for each one (importing multigrad, collecting 4,000 cases) costs seconds, most of a mutant's
time. This plugin does that once: it collects the tests, runs them once in a child that records
which functions of ``multigrad/ops`` each test executes, then serves requests on a Unix socket
(``ci/mutation_client.py`` is cosmic-ray's test command). For each request it finds the module
cosmic-ray rewrote, compiles the mutated source, forks, and in the child gives every function of
that module the mutated code (``__code__``), then runs the tests that executed a changed
function, fastest first, stopping at the first failure. A mutation outside any function (a
module-level constant, a decorator) cannot be swapped in: those run the same tests in a fresh
``python -B -m pytest`` over the rewritten file.

Environment: ``MUTATION_SOCKET`` (the socket's path), ``MUTATION_MAP`` (where the map of
test -> functions is cached, as JSON), ``MUTATION_TIMEOUT_FACTOR`` (a mutant may take this many
times its tests' unmutated time, plus 30 s; 20 by default: the load of a shared machine varies),
``MUTATION_MAX_SECONDS`` (the most any mutant may take: below cosmic-ray's own timeout, which
would otherwise abandon the request while the tests still run, and hand the next mutant's
request to a server still busy with this one).
"""

from __future__ import annotations

import ast
import gc
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import types
from pathlib import Path

from _pytest.runner import runtestprotocol

ROOT = Path(__file__).resolve().parent.parent
OPS = ROOT / "multigrad" / "ops"

# the functions of multigrad/ops that run while multigrad is imported (factories that build the
# primitives): a mutant there changes what was built, so its tests need a fresh import. This
# plugin is loaded (``-p``) before the conftest imports multigrad, so the hook sees the import.
_RUN_AT_IMPORT = set()


def _record_import(frame, event, arg):
    if event == "call" and frame.f_code.co_filename.startswith(str(OPS)):
        _RUN_AT_IMPORT.add(frame.f_code)


sys.setprofile(_record_import)


def _code_paths(code, prefix=()):
    """Every code object nested in ``code`` with its path: at each level, its index among the
    code objects of ``co_consts`` (a mutated constant can move them in ``co_consts``)."""
    yield prefix, code
    nested = [const for const in code.co_consts if isinstance(const, types.CodeType)]
    for k, const in enumerate(nested):
        yield from _code_paths(const, prefix + (k,))


def _own_parts(code):
    """What a code object is, its nested code objects left out (they are compared on their own)."""
    consts = tuple(repr(c) for c in code.co_consts if not isinstance(c, types.CodeType))
    return (code.co_code, consts, code.co_names, code.co_varnames, code.co_freevars,
            code.co_cellvars, code.co_argcount, code.co_kwonlyargcount, code.co_flags)


def _defaults_of(tree):
    """The default-value expressions of every function definition in ``tree``, in order."""
    return [(node, node.args.defaults, node.args.kw_defaults) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))]


def _loaded_at_import(tree, name):
    """Whether module-level code (not a function's body) reads ``name``."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            todo += [*node.args.defaults, *filter(None, node.args.kw_defaults)] \
                if not isinstance(node, ast.ClassDef) else node.bases
            continue
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load):
            return True
        todo += ast.iter_child_nodes(node)
    return False


def _import_time_patch(source, mutated_source):
    """What a mutant outside every function's code changes, as a patch a forked child can apply:
    ``({function: (defaults, [(kw name, kw default)])}, [(global name, value)])`` (expressions),
    when it changes only default values of module-level functions and values of module-level
    ``NAME = ...`` that no other import-time code reads; else None."""
    tree, mutated = ast.parse(source), ast.parse(mutated_source)
    defaults, constants = {}, []
    for (node, old, old_kw), (new, new_defaults, new_kw) in zip(_defaults_of(tree),
                                                               _defaults_of(mutated)):
        dump = [ast.dump(e) if e is not None else None for e in (*old, *old_kw)]
        new_dump = [ast.dump(e) if e is not None else None for e in (*new_defaults, *new_kw)]
        if dump != new_dump:
            if not isinstance(node, ast.FunctionDef) or node not in tree.body:
                return None
            names = [a.arg for a in node.args.kwonlyargs]
            defaults[node.name] = (new_defaults, list(zip(names, new_kw)))
            new.args.defaults, new.args.kw_defaults = old, old_kw
    for old, new in zip(tree.body, mutated.body):
        if (ast.dump(old) != ast.dump(new) and isinstance(old, ast.Assign)
                and isinstance(new, ast.Assign) and len(old.targets) == 1
                and isinstance(old.targets[0], ast.Name)
                and not _loaded_at_import(tree, old.targets[0].id)):
            constants.append((old.targets[0].id, new.value))
            new.value = old.value
    if ast.dump(tree) != ast.dump(mutated):
        return None
    return defaults, constants


_BACKEND_ID = re.compile(r"(numpy|strict)-[A-Za-z0-9_]+-float(32|64)")


def _twin(nodeid):
    """The same test on the numpy float64 backend (``nodeid`` itself when not parametrized by
    backend)."""
    return _BACKEND_ID.sub("numpy-cpu-float64", nodeid, count=1)


class Module:
    """One file of ``multigrad/ops``: its pristine source and its code objects by path."""

    def __init__(self, path: Path):
        self.path = path
        self.name = path.name
        self.source = path.read_text()
        self.code = compile(self.source, str(path), "exec", dont_inherit=True)
        self.paths = dict(_code_paths(self.code))
        self.path_of = {code: p for p, code in self.paths.items()}

    def changed(self, mutated_source: str):
        """(changed function paths, mutated code by path, module-level changed?) of a mutant."""
        mutated = compile(mutated_source, str(self.path), "exec", dont_inherit=True)
        mutated_paths = dict(_code_paths(mutated))
        if mutated_paths.keys() != self.paths.keys():
            return None, mutated_paths, True
        changed = {p for p in self.paths
                   if _own_parts(self.paths[p]) != _own_parts(mutated_paths[p])}
        return changed, mutated_paths, () in changed


class MutationServer:
    def __init__(self, session):
        self.session = session
        self.items = list(session.items)
        self.by_id = {item.nodeid: item for item in self.items}
        self.modules = {p.name: Module(p) for p in sorted(OPS.glob("*.py"))}
        self.module_of = {}  # runtime code object -> (module name, path)
        for name, module in self.modules.items():
            for code, p in module.path_of.items():
                self.module_of[code] = (name, p)
        self.factor = float(os.environ.get("MUTATION_TIMEOUT_FACTOR", "20"))
        self.max_seconds = int(os.environ.get("MUTATION_MAX_SECONDS", "570"))
        self.run_at_import = {self.module_of[c] for c in _RUN_AT_IMPORT if c in self.module_of}
        print(f"mutation server: {len(self.run_at_import)} functions of multigrad/ops run at "
              "import", flush=True)

    # -- the map: which test executes which function -------------------------------------------

    def load_or_record_map(self):
        cache = Path(os.environ["MUTATION_MAP"])
        if cache.exists():
            self.map = json.loads(cache.read_text())
        else:
            self.map = self._record_map()
            cache.write_text(json.dumps(self.map))
        self.tests_of = {}  # (module name, path) -> test ids
        self.twin_of = {}  # a test on another backend -> its twin on numpy float64, mapped
        for item in self.items:
            twin = _twin(item.nodeid)
            if twin != item.nodeid and twin in self.map and "cupy" not in item.nodeid:
                self.twin_of[item.nodeid] = twin
        for nodeid, twin in [*((n, n) for n in self.map), *self.twin_of.items()]:
            entry = self.map[twin]
            if entry["failed"] or nodeid not in self.by_id:
                continue
            for name, p in entry["codes"]:
                self.tests_of.setdefault((name, tuple(p)), set()).add(nodeid)
        failing = [n for n, e in self.map.items() if e["failed"]]
        print(f"mutation server: {len(self.map)} tests mapped, {len(failing)} failing unmutated "
              f"(left out): {failing[:5]}", flush=True)

    def _record_map(self):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child runs every test once, recording the ops functions it enters
            os.close(read)
            try:
                self._map_in_child(write)
            finally:
                os._exit(0)
        os.close(write)
        with os.fdopen(read) as inp:
            result = json.load(inp)
        os.waitpid(pid, 0)
        return result

    def _map_in_child(self, write):
        result = {}
        seen = set()

        def profile(frame, event, arg):
            if event == "call":
                key = self.module_of.get(frame.f_code)
                if key is not None:
                    seen.add(key)

        # a test on another backend executes the rules its numpy float64 twin does
        mapped = [item for item in self.items if "cupy" not in item.nodeid and (
            _twin(item.nodeid) == item.nodeid or _twin(item.nodeid) not in self.by_id)]
        for k, item in enumerate(mapped):
            seen.clear()
            start = time.perf_counter()
            sys.setprofile(profile)
            try:
                reports = runtestprotocol(item, nextitem=None, log=False)
            finally:
                sys.setprofile(None)
            result[item.nodeid] = {
                "duration": time.perf_counter() - start,
                "failed": any(r.failed for r in reports),
                "codes": sorted([name, list(p)] for name, p in seen),
            }
            if k % 500 == 0:
                print(f"mutation server: mapped {k}/{len(mapped)} tests", flush=True)
        with os.fdopen(write, "w") as out:
            json.dump(result, out)

    # -- one mutant --------------------------------------------------------------------------

    def _mutated_module(self):
        """(module, mutated source) of the one ops file that differs from its pristine text."""
        found = [(m, m.path.read_text()) for m in self.modules.values()]
        found = [(m, text) for m, text in found if text != m.source]
        if len(found) != 1:
            raise RuntimeError(f"expected one mutated file, found {[m.name for m, _ in found]}")
        return found[0]

    def _duration(self, nodeid):
        return self.map[self.twin_of.get(nodeid, nodeid)]["duration"]

    def _ordered(self, ids):
        """numpy float64 first (where the derivative checks run), then the other backends;
        fastest first within each."""
        return sorted(ids, key=lambda n: (n in self.twin_of, self._duration(n), n))

    def test_mutant(self) -> str:
        module, text = self._mutated_module()
        changed, mutated_paths, module_level = module.changed(text)
        patch = _import_time_patch(module.source, text) if module_level else ({}, [])
        plain = (int, float, complex, str, bytes, bool, tuple, frozenset, type(None))
        if patch is not None and not all(isinstance(getattr(self._runtime(module), name), plain)
                                         for name, _ in patch[1]):
            patch = None  # an object built at import (a primitive): imported afresh
        if module_level and patch is not None:  # the functions that read the changed values
            defaults, constants = patch
            functions = [getattr(self._runtime(module), name) for name in defaults]
            changed = {self.module_of.get(f.__code__, (None, ()))[1] for f in functions}
            changed |= {p for p, code in module.paths.items()
                        if any(name in code.co_names for name, _ in constants)}
            changed -= {()}
        if patch is None or any((module.name, p) in self.run_at_import for p in changed):
            # what the mutant changes was used while importing: a fresh process imports it and
            # runs the module's tests on numpy float64 (all backends would take many minutes)
            ids = set().union(*(t for (name, _), t in self.tests_of.items()
                                if name == module.name)) - self.twin_of.keys()
            return self._run_fresh(self._ordered(ids))
        ids = set().union(*(self.tests_of.get((module.name, p), set()) for p in changed))
        if not ids:
            return "survived: no test executes the mutated function"
        return self._run_forked(module, mutated_paths, patch, self._ordered(ids))

    @staticmethod
    def _runtime(module):
        return sys.modules[f"multigrad.ops.{module.path.stem}"]

    def _limit(self, ids):
        return min(int(self.factor * sum(self._duration(n) for n in ids) + 30), self.max_seconds)

    def _run_forked(self, module, mutated_paths, patch, ids):
        limit = self._limit(ids)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child never returns: whatever happens, it reports and exits
            os.close(read)
            signal.alarm(limit)  # the default action ends the child: a timeout
            try:
                verdict = self._test_in_child(module, mutated_paths, patch, ids)
            except BaseException as err:
                verdict = f"error in the child: {type(err).__name__}: {err}"
            os.write(write, verdict.encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as inp:
            verdict = inp.read().decode()
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            signum = os.WTERMSIG(status)
            if signum == signal.SIGALRM:
                return f"timeout after {limit} s ({len(ids)} tests)"
            return f"killed: the tests' process died of signal {signum}"
        return verdict

    def _test_in_child(self, module, mutated_paths, patch, ids):
        """Put the mutant in place (code, import-time values) and run ``ids`` until one fails."""
        swapped = 0
        for obj in gc.get_objects():
            if type(obj) is types.FunctionType:
                key = self.module_of.get(obj.__code__)
                if key is not None and key[0] == module.name:
                    obj.__code__ = mutated_paths[key[1]]
                    swapped += 1
        namespace = vars(self._runtime(module))

        def value(expr):
            return eval(compile(ast.Expression(expr), module.name, "eval"), namespace)

        defaults, constants = patch
        for name, expr in constants:
            namespace[name] = value(expr)
        for name, (exprs, kw_exprs) in defaults.items():
            function = namespace[name]
            function.__defaults__ = tuple(value(e) for e in exprs) or None
            function.__kwdefaults__ = {n: value(e) for n, e in kw_exprs if e is not None} or None
        for nodeid in ids:
            reports = runtestprotocol(self.by_id[nodeid], nextitem=None, log=False)
            if any(r.failed for r in reports):
                return f"killed by {nodeid}"
        return f"survived: {len(ids)} tests pass ({swapped} functions swapped)"

    def _run_fresh(self, ids):
        argsfile = Path(os.environ["MUTATION_MAP"]).with_suffix(".args")
        argsfile.write_text("\n".join(ids))
        limit = min(self._limit(ids) + 30, self.max_seconds)  # + the start of a process
        command = [sys.executable, "-B", "-m", "pytest", f"@{argsfile}", "-x", "-q",
                   "-p", "no:cacheprovider"]
        device = self.session.config.getoption("--device")
        if device:
            command += ["--device", device]
        try:
            done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=limit,
                                  env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        except subprocess.TimeoutExpired:
            return f"timeout after {limit} s ({len(ids)} tests, module-level mutation)"
        if done.returncode == 0:
            return f"survived: {len(ids)} tests pass (module-level mutation, fresh process)"
        tail = " ".join(done.stdout.decode(errors="replace").strip().splitlines()[-1:])
        if done.returncode not in (1, 2):  # 1: a test failed; 2: the mutant does not import
            return f"error: pytest exited {done.returncode}: {tail}"
        return f"killed (module-level mutation, fresh process): {tail}"

    def serve(self):
        path = os.environ["MUTATION_SOCKET"]
        if os.path.exists(path):
            os.unlink(path)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(1)
        print("mutation server: ready", flush=True)
        while True:
            conn, _ = server.accept()
            with conn:
                request = conn.recv(64).decode()
                if request == "quit":
                    conn.sendall(b"bye")
                    server.close()
                    os.unlink(path)
                    return
                try:
                    verdict = self.test_mutant()
                except SyntaxError as err:  # parso reads the ``/`` of positional-only
                    verdict = f"invalid: {err}"  # parameters as a division; not a mutant
                except Exception as err:  # reported to cosmic-ray as a killed mutant with why
                    verdict = f"error: {type(err).__name__}: {err}"
                print(f"mutation server: {verdict}", flush=True)
                try:
                    conn.sendall(verdict.encode())
                except OSError:  # the client gave up (cosmic-ray's timeout): serve the next
                    print("mutation server: the client left before the verdict", flush=True)


def pytest_runtestloop(session):
    if session.config.option.collectonly:
        return None
    sys.setprofile(None)
    server = MutationServer(session)
    server.load_or_record_map()
    server.serve()
    return True
