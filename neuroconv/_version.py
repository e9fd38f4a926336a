"""The installed distribution's version (``0+unknown`` in a source tree that was never installed)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("brian2-neuroconv")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"
