"""Benchmarks of multigrad against a hand-written reference and its peers.

``python -m benchmarks --help`` (or ``python benchmarks/run.py``) runs them; see
``benchmarks/README.md`` for the workloads, the method and the latest results.
"""
