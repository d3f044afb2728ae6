"""Development tools: benchmarks (`voxray bench`), the load test (`voxray loadtest`) and helpers for them.

The product (pipelines/, models/) never imports this package; `jobs/` reaches it only from the
commands that run these tools.
"""
