"""Where a run's batches go: a local Dask cluster whose dashboard is not offered to the
network, an existing cluster by address, or this process for a run of a few documents."""

import psutil
import pytest
from distributed import LocalCluster

from docflow.core.settings import DocflowSettings
from flows.runner import build_task_runner, runs_in_process


def _listening_hosts(port: int) -> set[str]:
    return {c.laddr.ip for c in psutil.Process().net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


@pytest.mark.parametrize("asked, hosts", [(None, {"127.0.0.1"}), (":0", {"0.0.0.0", "::"})])
def test_the_dashboard_binds_to_loopback_unless_asked(asked, hosts):
    settings = DocflowSettings(workers=1, **({"dashboard_address": asked} if asked else {}))
    kwargs = {**build_task_runner(settings).cluster_kwargs, "n_workers": 0}
    with LocalCluster(**kwargs) as cluster:
        port = cluster.scheduler.http_server.port
        assert _listening_hosts(port) <= hosts and _listening_hosts(port)


@pytest.mark.parametrize("settings, documents, here", [
    ({}, 1, True),
    ({}, 8, True),
    ({}, 9, False),
    ({"in_process_max_docs": 0}, 1, False),
    ({"in_process_max_docs": 100}, 100, True),
    ({"address": "tcp://127.0.0.1:8786"}, 1, False),  # a named cluster is where the work goes
])
def test_only_a_few_documents_and_no_address_run_in_this_process(settings, documents, here):
    assert runs_in_process(DocflowSettings(**settings), documents) is here
