"""scripts/bench: the front-end emulation alone (no diagnosis), to measure what it costs by itself."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "addons"))

from offload.addon import Offload  # noqa: E402

addons = [Offload()]
