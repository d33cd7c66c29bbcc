"""What each named backend cannot do, with the reason: the one list of known failures.

``KNOWN_FAILURES[library]`` holds ``(pattern, reason)`` pairs; a pattern matches test node ids
(``fnmatch``: ``*`` for any text). ``pytest --backend NAME`` marks the matching cases of that
backend as strict xfails (conftest.py), so they are reported with their reasons, and one that
starts passing fails the run until its entry is removed.
"""

from __future__ import annotations

KNOWN_FAILURES: dict[str, list[tuple[str, str]]] = {
    "torch": [],
    "jax": [],
    "dask": [],
}
