"""The package's version: its installed metadata, or a marker when it runs from a source tree. It lives in ``core``
so that every layer reads it from below (the cache keys, checkpoints and reports record it)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mclr-sandbox")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
