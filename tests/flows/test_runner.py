"""The local Dask cluster every flow starts: its dashboard is not offered to the network."""

import psutil
import pytest
from distributed import LocalCluster

from docflow.core.settings import DocflowSettings
from flows.runner import build_task_runner


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

