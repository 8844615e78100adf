"""``python -m automl ...``: the same as the ``automl`` console script."""

import sys

from automl.cli import main

sys.exit(main())
