"""Handlers, one module per audience or feature."""
