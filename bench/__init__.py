"""Benchmarks: synthetic content (generate.py) and the Gongkai/Hugo/MkDocs harness (run.py)."""
