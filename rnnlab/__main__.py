"""Entry point for `python -m rnnlab`."""

import sys

from rnnlab.cli import main

sys.exit(main())
