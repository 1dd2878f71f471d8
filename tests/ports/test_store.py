"""A capability a store does not declare is refused up front, with the store's name."""

import pytest

from docflow.adapters.stores.lancedb.store import LanceStore
from docflow.core.errors import DocflowSystemError
from docflow.core.models import Target
from docflow.ports.store import Capability, snapshots


class _AppendOnly:
    """The smallest store that declares no pinned versions: the refusal reads only these two."""

    kind = "append-only"
    capabilities = frozenset({Capability.COMPACT})


def test_export_with_a_store_without_pinned_versions_is_refused_clearly():
    with pytest.raises(DocflowSystemError, match="export needs a store with pinned-versions; the append-only store"):
        snapshots(_AppendOnly(), "export")


def test_the_lancedb_store_offers_snapshots(tmp_path):
    store = LanceStore(Target(str(tmp_path), "chunks", str(tmp_path / "ckpt")))
    assert snapshots(store, "export") is store
