"""xenctl: a declarative manager for Xen hosts."""

__version__ = "0.1.0"
