"""Comptoir's benchmarks: each figure beside a bare baseline of the same libraries.

``python -m bench`` (``make bench``) runs them all and prints a table;
``python -m bench --quick`` is a short smoke run. See ``bench/__main__.py``.
"""
