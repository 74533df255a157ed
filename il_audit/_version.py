"""The package version, read by the build backend and by ``il_audit.__version__``."""

__version__ = "2.0.0"
