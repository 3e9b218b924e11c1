"""``python -m coresets`` runs the command line (see :mod:`coresets.cli`)."""

import sys

from .cli import main

sys.exit(main())
