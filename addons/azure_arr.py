"""Emulate Azure App Service's TLS-terminating front end in front of a local app, and say what breaks (offload).

    mitmdump -s addons/azure_arr.py --mode reverse:http://localhost:3000@127.0.0.1:8443

Options: mitmdump -s addons/azure_arr.py --options | grep -A3 frontend. See README.md.
"""

import os
import sys

# Works from any working directory, with or without `pip install -e .`: the package sits beside this script.
_here = os.path.dirname(os.path.abspath(__file__))
if _here not in sys.path:
    sys.path.insert(0, _here)

from offload.addon import Offload  # noqa: E402
from offload.diagnose import Diagnose  # noqa: E402

emulation = Offload()
addons = [emulation, Diagnose(emulation)]
