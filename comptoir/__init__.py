"""Comptoir: one backend for a company's shop, files, resources and chat."""

__version__ = "0.1.0"
