"""``python -m benchmarks``: the benchmark harness (see ``benchmarks/run.py``)."""

from benchmarks.run import main

raise SystemExit(main())
