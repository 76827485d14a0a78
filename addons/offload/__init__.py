"""offload: reproduce a cloud front end's TLS termination in front of a local app, and say what breaks."""

__version__ = "0.1.0"
