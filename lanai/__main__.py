"""``python -m lanai``: the same entry point as the ``lanai`` console script."""

import sys

from lanai.cli import main

sys.exit(main())
