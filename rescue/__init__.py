"""vmrescue: offline boot-image rescue for Linux virtual machines."""

__version__ = "0.1.0"
