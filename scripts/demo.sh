#!/usr/bin/env bash
# Fresh machine to a search hit: set up .venv, ingest the bundled samples on embedded defaults
# (docflow-managed local Prefect server, local Dask cluster, ./lancedb on disk), search them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/docflow ingest samples --db ./lancedb
.venv/bin/docflow search "how do I retry a failed batch" --db ./lancedb -k 3
