"""Benchmarks for xloop (run ``python benchmarks/vs_uvicorn.py --help``)."""
