"""Local path or remote URL: the one place that decides, so a source, a database and a
checkpoint directory given the same string are never judged differently.

A location is remote when it names a scheme other than `file` followed by `//` (s3://,
https://, gs://, db://): a one-letter scheme is a Windows drive, and `notes:v2.txt` or
`host:path` without `//` is a file name, not a URL."""

from __future__ import annotations

from urllib.parse import urlsplit

_FILE = "file://"


def is_remote(uri: str) -> bool:
    scheme = urlsplit(uri).scheme
    return len(scheme) > 1 and scheme != "file" and uri[len(scheme) + 1 :].startswith("//")


def local_path(uri: str) -> str:
    """The path a plain path or `file://` URI names; a remote URI has none, so asking is a bug."""
    if is_remote(uri):
        raise ValueError(f"not a local location: {uri}")
    return uri[len(_FILE) :] if uri[: len(_FILE)].lower() == _FILE else uri
