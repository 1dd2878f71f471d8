#!/usr/bin/env bash
# Fresh machine to a test report: set up .venv, then run the whole suite (unit tests plus real
# end-to-end flows on a real Prefect server, Dask cluster and LanceDB). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
DOCFLOW_WITH_BROWSER=1 DOCFLOW_WITH_LIBREOFFICE=1 scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
