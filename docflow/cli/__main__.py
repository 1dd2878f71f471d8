"""`python -m docflow.cli`: the same entry point as the `docflow` command."""

import sys

from docflow.cli.main import run

sys.exit(run())
