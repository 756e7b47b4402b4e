"""mamori (守り): a self-hosted security pack for the Japanese automotive supply chain."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mamori")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+src"

__all__ = ["__version__"]
