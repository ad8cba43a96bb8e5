"""The benchmark is run by hand (python -m tests.benchmarks.bench), never by
the test suite: machines are noisy, and it loads the kernel. Its table and
statistics are tested in tests/unit/test_bench_table.py."""

collect_ignore_glob = ["*.py"]
