"""Benchmarks of jaxnet against its peers (see README.md); run `python benchmarks/run.py`."""
