"""The Source adapters against real endpoints: local files, and an S3 API on loopback (moto's
server) where every object GET shows in its access log."""

import hashlib
import io

import pytest

from docflow.adapters.sources import Sources
from docflow.adapters.sources.fsspec import FsspecSource
from docflow.adapters.sources.local import LocalSource
from docflow.core.discover import SourceError
from docflow.core.sourcing import Examined
from docflow.core.versions import FileStat, Recorded
from tests.s3server import BUCKET, client, moto_s3, object_gets


@pytest.mark.parametrize("location", ["/data/docs", "relative/docs", "file:///data/docs", "docs/**/*.pdf"])
def test_paths_and_file_uris_are_read_as_local_files(location):
    assert isinstance(Sources(7.0)(location), LocalSource)


@pytest.mark.parametrize("location", ["s3://bucket/prefix", "https://host/doc.pdf", "gs://bucket/key"])
def test_every_other_scheme_goes_to_fsspec_with_the_runs_timeout(location):
    source = Sources(7.0)(location)
    assert isinstance(source, FsspecSource) and source.timeout_s == 7.0


def test_a_local_listing_walks_and_a_missing_location_is_refused(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("a")
    (tmp_path / ".hidden.txt").write_text("h")
    listing = LocalSource().list(str(tmp_path))
    assert (listing.root, [d.path for d in listing.documents], listing.walked) == (
        str(tmp_path), [str(tmp_path / "sub" / "a.txt")], True
    )
    with pytest.raises(SourceError, match="does not exist"):
        LocalSource().list(str(tmp_path / "nope"))


@pytest.fixture(scope="module")
def bucket(tmp_path_factory):
    """One server for the module. s3fs keeps file system instances per process, with the
    endpoint they were created with: cleared on both sides, so no test sees another server."""
    from s3fs import S3FileSystem

    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log_path, "w") as log, moto_s3(log=log) as env, pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        S3FileSystem.clear_instance_cache()
        s3 = client(env)
        for key, body in (("docs/a.txt", b"alpha text"), ("docs/sub/b.md", b"# beta")):
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        yield s3, log_path
        S3FileSystem.clear_instance_cache()


def test_an_object_store_listing_carries_each_objects_etag_and_size(bucket):
    s3, _ = bucket
    listing = FsspecSource(10).list(f"s3://{BUCKET}/docs")
    etag = s3.head_object(Bucket=BUCKET, Key="docs/a.txt")["ETag"].strip('"')
    assert listing.root == f"s3://{BUCKET}/docs"
    assert [(d.path, d.size) for d in listing.documents] == [
        (f"s3://{BUCKET}/docs/a.txt", 10), (f"s3://{BUCKET}/docs/sub/b.md", 6)
    ]
    assert listing.documents[0].version == etag


def test_an_unchanged_object_is_not_fetched_and_a_changed_one_is_hashed(bucket):
    _, log_path = bucket
    source = FsspecSource(10)
    listing = source.list(f"s3://{BUCKET}/docs")
    listed = listing.documents[0]
    same = Recorded("recorded-sha", FileStat(listed.size, 0, 0, 0), listed.version, 1)
    mark = log_path.stat().st_size
    assert source.examine(listed, listing, same, rehash=False, defer=False) == Examined(
        "recorded-sha", listed.size, version=listed.version
    )
    assert object_gets(log_path, mark, BUCKET, "docs/") == 0
    other = Recorded("recorded-sha", FileStat(listed.size, 0, 0, 0), "another-etag", 1)
    fetched = source.examine(listed, listing, other, rehash=False, defer=False)
    assert fetched.content_sha256 == hashlib.sha256(b"alpha text").hexdigest() and fetched.head == b"alpha text"
    assert object_gets(log_path, mark, BUCKET, "docs/") == 1


def test_a_copy_holds_the_objects_bytes_and_its_stable_version(bucket):
    source = FsspecSource(10)
    (listed, _) = source.list(f"s3://{BUCKET}/docs").documents
    buffer = io.BytesIO()
    copied = source.copy(listed.path, buffer)
    assert buffer.getvalue() == b"alpha text"
    assert (copied.content_sha256, copied.size, copied.version) == (
        hashlib.sha256(b"alpha text").hexdigest(), 10, listed.version
    )
    with pytest.raises(FileNotFoundError):
        source.copy(f"s3://{BUCKET}/docs/gone.txt", io.BytesIO())
