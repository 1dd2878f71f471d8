"""What only the Chroma store has to show: it needs no network and fetches nothing (its default
embedding function is never built), and it refuses what embedded Chroma cannot hold."""

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from docflow.core.errors import DocflowSystemError
from docflow.core.models import Target
from docflow.adapters.stores import open_store

OFFLINE_RUN = textwrap.dedent("""
    import sys
    from pathlib import Path
    import numpy as np
    from tests import storesupport as s

    store, state = s.opened(Path(sys.argv[1]), "chroma")
    store.ensure(s.DIM, {"model_name": "m"})
    s.write(store, [s.doc("a", 2), s.doc("b", 1)])
    state.ensure()
    hits = store.search(np.ones(s.DIM, dtype=np.float32), 3)
    print(len(hits), store.count(), store.client.get_settings().anonymized_telemetry)
""")


def test_writes_and_searches_without_a_network_and_fetches_nothing(tmp_path):
    """In a network namespace of its own (no interface but a downed loopback), with an empty
    HOME: nothing can be fetched, and nothing is cached under HOME (Chroma's default embedding
    function would put an ONNX model in ~/.cache/chroma)."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rn", "true"]).returncode != 0:
        pytest.skip("no unprivileged network namespaces here")
    home = tmp_path / "home"
    home.mkdir()
    run = subprocess.run(
        ["unshare", "-rn", sys.executable, "-c", OFFLINE_RUN, str(tmp_path / "db")],
        capture_output=True, text=True, timeout=300, env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        cwd=Path(__file__).parents[3],
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["3", "3", "False"]
    assert list(home.rglob("*")) == []


def test_a_url_is_refused_with_the_store_to_use_instead(tmp_path):
    store = open_store(Target(db="s3://bucket/db", table="chunks", checkpoint_dir="", store="chroma"))
    with pytest.raises(DocflowSystemError, match="local directory.*use --store lancedb"):
        store.info()
