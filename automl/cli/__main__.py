"""``python -m automl.cli ...``: the same as the ``automl`` console script."""

import sys

from automl.cli import main

sys.exit(main())
