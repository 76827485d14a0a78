"""The addon script mitmproxy loads by path, from an installed offload (pip, pipx, uv tool) or a checkout:

    mitmdump -s "$(offload addon-path)" --mode reverse:http://localhost:3000@127.0.0.1:8443

mitmproxy loads a script as a module of its own (no package), so imports here are absolute. It lives in a folder of
its own because mitmproxy puts the script's folder on sys.path while loading it.
"""

import os
import sys

try:
    import offload  # noqa: F401 (installed, or on the path already)
except ImportError:  # a checkout: the package is two folders up (addons/offload/script/offload_addon.py)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from offload.addon import Offload  # noqa: E402
from offload.diagnose import Diagnose  # noqa: E402

emulation = Offload()
addons = [emulation, Diagnose(emulation)]
