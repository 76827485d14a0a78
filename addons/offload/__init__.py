"""offload: reproduce a cloud front end's TLS termination in front of a local app, and say what breaks."""

from pathlib import Path

__version__ = "0.1.0"


def addon_path() -> str:
    """The absolute path of the addon script for mitmproxy's -s (from an installed package or a checkout)."""
    return str(Path(__file__).resolve().parent / "script" / "offload_addon.py")
