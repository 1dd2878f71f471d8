#!/usr/bin/env bash
# Fresh machine to a test report: set up .venv, then run the whole suite (unit tests plus real
# end-to-end flows on a real Prefect server, Dask cluster and LanceDB). Extra args go to pytest
# (`-n 0` runs in one process).
set -euo pipefail
cd "$(dirname "$0")/.."
DOCFLOW_WITH_BROWSER=1 DOCFLOW_WITH_LIBREOFFICE=1 scripts/setup.sh
# Two pytest processes, whole files each: an end-to-end test mostly waits on its server, cluster
# and CLI subprocesses, and module fixtures (one worker deployment, one S3 server) stay shared.
# Each process has its own session directory, Prefect server and warm cluster (tests/conftest.py).
exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@"
