"""``python -m xenctl``."""

import sys

from xenctl.cli.main import main

sys.exit(main())
