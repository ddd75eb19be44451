"""High-level entry points behind the tools (``tools/quickstart.py``)."""
