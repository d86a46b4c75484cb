"""``python -m netmon``."""

import sys

from netmon.cli import main

sys.exit(main())
