"""Benchmarks of xrm against hand-written SQL on the same schema: ``python -m bench.run``.

See docs/performance.md for what is measured, how, and the latest figures.
"""
