"""The benchmarks' long runs show their rounds as tqdm bars on a terminal, and as lines in a
log or in the short smoke runs."""

from __future__ import annotations

import importlib.util
import io
import re
import sys

import pytest

from benchmarks import _timing


class Terminal(io.StringIO):
    def isatty(self):
        return True


def _run(long_run: bool) -> tuple[dict, list]:
    lines = []
    calls = {"reference": lambda: None, "multigrad": lambda: sum(range(100))}
    times = _timing.interleaved(calls, 3, lambda: None, lines.append, "MLP step", long_run)
    return times, lines


def test_a_long_run_on_a_terminal_draws_a_tqdm_bar(monkeypatch):
    if importlib.util.find_spec("tqdm") is None:
        pytest.fail("tqdm is missing: install the test extra (python -m pip install -e '.[test]')")
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    times, lines = _run(long_run=True)
    assert {name: len(t) for name, t in times.items()} == {"reference": 3, "multigrad": 3}
    assert lines == []  # the bar replaces the lines
    final = re.split(r"[\r\n]+", terminal.getvalue().strip())[-1]
    assert re.match(r"MLP step: 100%\|.*\| 3/3 \[.*round.*, reference [0-9.]+ \S+, "
                    r"multigrad [0-9.]+ \S+\]$", final), terminal.getvalue()


@pytest.mark.parametrize("long_run, stderr", [(True, io.StringIO()), (False, Terminal())])
def test_a_log_or_a_short_run_prints_a_line_per_round(monkeypatch, long_run, stderr):
    monkeypatch.setattr(sys, "stderr", stderr)
    times, lines = _run(long_run)
    assert len(times["multigrad"]) == 3
    assert [line.split(":")[1].strip() for line in lines] == ["round 1/3", "round 2/3",
                                                              "round 3/3"]
    assert stderr.getvalue() == ""
