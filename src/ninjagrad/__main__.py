"""``python -m ninjagrad`` is the ``ninjagrad`` command."""

import sys

from ninjagrad.cli import main

sys.exit(main())
