"""Allowed roots: real paths (symlinks and `..` resolved) and URL prefixes, component by component."""

import os

import pytest

from docflow.core.settings import DocflowSettings, split_roots
from docflow.core.confine import NotAllowed, check, locate


def test_roots_split_on_pathsep_and_urls_keep_their_scheme(monkeypatch):
    assert split_roots("/data/docs:s3://bucket/prefix::https://host/docs") == (
        "/data/docs", "s3://bucket/prefix", "https://host/docs",
    )
    assert DocflowSettings().allowed_roots == ()
    monkeypatch.setenv("DOCFLOW_ALLOWED_ROOTS", f"/srv/a{os.pathsep}/srv/b")
    assert DocflowSettings().allowed_roots == ("/srv/a", "/srv/b")


def test_paths_inside_a_root_pass_and_siblings_do_not(tmp_path):
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "docs-private").mkdir()
    check([("document source", str(root / "sub")), ("database", str(root / "db-not-yet"))], [str(root)])
    check([("document source", f"file://{root}/sub"), ("glob", f"{root}/**/*.md")], [str(root)])
    with pytest.raises(NotAllowed, match="docs-private.*outside the allowed roots.*DOCFLOW_ALLOWED_ROOTS"):
        check([("document source", str(tmp_path / "docs-private"))], [str(root)])


def test_dot_dot_and_symlinks_are_resolved_before_the_check(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "etc-link").symlink_to("/etc")
    for sneaky in (f"{root}/../../../etc/X11", f"{root}/etc-link", f"{root}/etc-link/*.txt", f"{root}/*/../../x"):
        with pytest.raises(NotAllowed, match="outside the allowed roots"):
            check([("document source", sneaky)], [str(root)])
    # An allowed root that is itself a symlink admits what it points at.
    link_root = tmp_path / "alias"
    link_root.symlink_to(root)
    check([("document source", str(root))], [str(link_root)])


def test_object_store_prefixes_are_allowed_by_bucket_and_prefix():
    roots = ["s3://Bucket/team/docs", "https://intranet.example/handbook"]
    check([("document source", "s3://bucket/team/docs/2024"), ("database", "s3://bucket/team/docs")], roots)
    check([("document source", "https://intranet.example/handbook/a.pdf")], roots)
    for outside in ("s3://bucket/team/docs-old", "s3://other/team/docs", "s3://bucket/team/docs/../secrets",
                    "gs://bucket/team/docs", "http://intranet.example/handbook/a.pdf", "/team/docs"):
        with pytest.raises(NotAllowed):
            check([("database", outside)], roots)
    assert str(locate("s3://b/x/./y//z/../w")) == "s3://b/x/y/w"
