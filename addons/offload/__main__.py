"""python -m offload: the same as the offload command."""

import sys

from .cli import main

sys.exit(main())
