"""`python -m docflow.cli`: the same entry point as the `docflow` command."""

import sys

from docflow.cli.main import main

sys.exit(main())
