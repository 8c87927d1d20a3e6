"""Benchmarks of SPEC §11 (B1–B8), each against a reference measured in the same run.

`python -m bench.b1` … `python -m bench.b8` run one; `python -m bench.all` runs them all
and writes the table of `docs/BENCHMARKS.md`. Sizes come from `--events` or
`DOCKET_BENCH_EVENTS`. Never run by the test suite (see tests/bench/test_smoke.py).
"""
