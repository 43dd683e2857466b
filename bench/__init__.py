"""logship's benchmarks: `python -m bench [--quick]` prints figures, never asserts on them."""
