"""focusbase: a self-hostable, FOCUS-native cost data server."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("focusbase")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["__version__"]
