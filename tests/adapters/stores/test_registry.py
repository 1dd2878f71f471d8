"""Stores are chosen by name from the entry point group docflow.stores."""

from importlib.metadata import entry_points

import pytest

from docflow.adapters import stores
from docflow.adapters.stores.lancedb.ledger import LanceState
from docflow.adapters.stores.lancedb.store import LanceStore
from docflow.core.settings import DocflowSettings
from docflow.ports.state import State
from docflow.ports.store import VectorStore


def test_the_default_store_is_registered_under_the_entry_point_group():
    assert stores.default_name() == "lancedb"  # listed first in pyproject.toml
    assert stores.default_name() in stores.names()
    assert stores.adapter(None) is stores.adapter(stores.default_name())


def test_a_target_from_the_settings_opens_the_named_stores_ports(tmp_path):
    target = stores.target_of(DocflowSettings(db=str(tmp_path / "db"), table="docs"))
    assert target.store == stores.default_name()
    assert target.checkpoint_dir == str(tmp_path / "db" / "_docflow" / "checkpoints" / "docs")
    store, state = stores.open_store(target), stores.open_state(target)
    assert isinstance(store, LanceStore) and isinstance(store, VectorStore)
    assert isinstance(state, LanceState) and isinstance(state, State)
    assert store.info() is None and not state.exists()  # opening touched no table


def test_an_unknown_store_name_is_a_config_error_naming_the_installed_ones(tmp_path):
    settings = DocflowSettings(db=str(tmp_path), store="pgvectr")
    with pytest.raises(stores.UnknownStore, match=r"unknown store 'pgvectr': the installed stores are .*lancedb") as raised:
        stores.target_of(settings)
    assert raised.value.stage == "config" and raised.value.error_class.value == "system"
