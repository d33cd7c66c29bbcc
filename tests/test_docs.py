"""The documentation site (mkdocs.yml, docs/) builds warning-free, its navigation and API
reference point at what exists, every public name is documented, and its examples run."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import io
import re
import subprocess
import sys

import pytest

import multigrad as mg

from test_examples import _NumbersClose
from test_ci_scripts import ROOT

DOCS = ROOT / "docs"
INSTALL = "python -m pip install -e '.[test]'"  # the test extra includes the docs extra


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


def _require(*modules: str) -> None:
    """Fail (never skip) where the extra is missing: CI installs it, so a skip would let the
    site break unseen."""
    missing = [m for m in modules if not _importable(m)]
    if missing:
        pytest.fail(f"the docs checks need {', '.join(missing)}: install the test extra with "
                    f"{INSTALL}")


def _nav_pages(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [p for value in node.values() for p in _nav_pages(value)]
    return [p for item in node for p in _nav_pages(item)]


def _config() -> dict:
    _require("yaml")
    import yaml
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text())


def _pages() -> list:
    return sorted(DOCS.rglob("*.md"))


def test_the_navigation_lists_every_page_and_only_pages_that_exist():
    listed = _nav_pages(_config()["nav"])
    on_disk = sorted(str(p.relative_to(DOCS)) for p in _pages())
    assert sorted(listed) == on_disk, "mkdocs.yml's nav and the pages under docs/ differ"
    assert len(set(listed)) == len(listed), "a page is listed twice"
    for required in ("getting-started.md", "devices.md", "transforms.md", "custom-ops.md",
                     "networks.md", "compile.md", "ecosystem.md", "gradcheck.md",
                     "coverage.md", "saving.md"):
        assert required in listed


def _references() -> list[tuple[str, str]]:
    """Every ``::: dotted.name`` of the API reference, with the page it is on."""
    return [(str(page.relative_to(DOCS)), name) for page in _pages()
            for name in re.findall(r"(?m)^::: *([\w.]+) *$", page.read_text())]


def _resolve(name: str):
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(name)


def test_every_api_reference_resolves_to_a_documented_object():
    references = _references()
    assert len(references) > 30
    for page, name in references:
        try:
            obj = _resolve(name)
        except (ImportError, AttributeError):
            pytest.fail(f"docs/{page}: '::: {name}' names nothing importable")
        assert (obj.__doc__ or "").strip(), f"docs/{page}: {name} has no docstring"


def _documented_names() -> set:
    """What the API pages reference, directly or as a listed member of a module."""
    names = set()
    for page in _pages():
        text = page.read_text()
        for name in re.findall(r"(?m)^::: *([\w.]+) *$", text):
            names.add(name.rsplit(".", 1)[-1])
            module = _resolve(name)
            if isinstance(module, type(mg)):  # a module: its listed members, else all
                listed = re.search(rf"(?ms)^::: *{re.escape(name)} *\n(?:[ \t]+.*\n)*?[ \t]+"
                                   r"members: *\[([^\]]*)\]", text + "\n")
                names |= (set(re.findall(r"\w+", listed.group(1))) if listed
                          else set(getattr(module, "__all__", ())))
    return names


def test_every_public_name_is_in_the_api_reference_or_the_coverage_table():
    covered = set(re.findall(r"(?m)^\| `(\w+)` \|", (DOCS / "coverage.md").read_text()))
    modules = {n for n in mg.__all__ if isinstance(getattr(mg, n), type(mg))}
    constants = {n for n in mg.__all__ if isinstance(getattr(mg, n), (float, type(None), str))}
    dtypes = {n for n in mg.__all__ if isinstance(getattr(mg, n), mg.DType)}
    undocumented = (set(mg.__all__) - covered - modules - constants - dtypes
                    - _documented_names())
    assert not undocumented, (f"public names missing from the API reference (docs/api/*.md): "
                              f"{sorted(undocumented)}")
    documented_modules = {n.split(".")[1] for _, n in _references() if n.count(".") >= 1}
    for module in ("nn", "optim", "numerical", "viz"):
        assert module in documented_modules, f"multigrad.{module} has no API page"


def test_the_site_builds_in_strict_mode(tmp_path):
    _require("mkdocs", "mkdocstrings", "mkdocstrings_handlers.python")
    # no --quiet: MkDocs 1.6 then drops warnings before --strict counts them, and a broken
    # link passes
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                           "--site-dir", str(tmp_path / "site")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    # the API reference was generated from the docstrings, not left empty
    page = (tmp_path / "site" / "api" / "transforms" / "index.html").read_text()
    assert 'id="multigrad.transforms.hvp"' in page and "never forms the Hessian" in page
    assert (tmp_path / "site" / "coverage" / "index.html").exists()


# -- the examples on the pages run ------------------------------------------------------------

def _blocks(language: str) -> list[tuple[str, str]]:
    return [(str(page.relative_to(DOCS)), block) for page in _pages()
            for block in re.findall(rf"```{language}\n(.*?)```", page.read_text(), flags=re.S)]


def test_interactive_examples_print_what_they_show():
    blocks = _blocks("pycon")
    assert len(blocks) >= 5
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(
        checker=_NumbersClose(), optionflags=doctest.NORMALIZE_WHITESPACE)
    for page, block in blocks:
        out = io.StringIO()
        test = parser.get_doctest(block, {"__name__": "docs_example"}, page, page, 0)
        result = runner.run(test, out=out.write)
        assert result.failed == 0, out.getvalue()


def test_python_examples_run(tmp_path, monkeypatch):
    """```python blocks are whole programs and run here; ```py blocks are fragments (code
    for another library, such as PyTorch) and are only shown."""
    _require("safetensors")
    monkeypatch.chdir(tmp_path)  # the saving examples write files
    blocks = _blocks("python")
    assert len(blocks) >= 3
    for page, block in blocks:
        exec(compile(block, f"docs/{page}", "exec"), {"__name__": "docs_example"})
