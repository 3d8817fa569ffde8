"""`python -m memaudit.cli`: the `memaudit` command."""

import sys

from . import main

sys.exit(main())
