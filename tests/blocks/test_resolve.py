"""What a flow run's resolved inputs become: absolute locations, and the places the fence checks."""

import os

import pytest

from blocks.resolve import confine, resolve, run_locations
from docflow.core.settings import DocflowSettings
from docflow.core.confine import NotAllowed

PLAIN = dict(paths=["/src"], db=None, table=None, include=None, exclude=None, model=None,
             retry_policies=None, source=None, target=None, embedder=None)


def test_a_relative_database_is_made_absolute_before_it_travels(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = resolve(**{**PLAIN, "db": "rel/db"}).settings()
    assert settings.db == str(tmp_path / "rel" / "db")
    assert resolve(**{**PLAIN, "db": "s3://bucket/db"}).settings().db == "s3://bucket/db"
    assert resolve(**PLAIN).settings().db == str(tmp_path / "lancedb")  # the default ./lancedb


def test_every_place_a_run_touches_is_checked(tmp_path):
    settings = DocflowSettings(db=str(tmp_path / "db"), model="/models/x", checkpoint_dir="/ckpt",
                               allowed_roots=(str(tmp_path),))
    places = run_locations(["/src"], settings)
    assert [what for what, _ in places] == ["document source", "database", "checkpoint directory", "embedding model"]
    with pytest.raises(NotAllowed, match="document source '/src'"):
        confine(places, settings)
    confine(run_locations([str(tmp_path / "docs")], settings.model_copy(update={"model": None, "checkpoint_dir": None})),
            settings)


def test_the_cli_path_without_roots_may_read_anything_the_user_can():
    confine(run_locations(["/etc"], DocflowSettings(db=os.path.abspath("db"))), DocflowSettings())
