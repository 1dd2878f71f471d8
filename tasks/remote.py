"""Documents behind fsspec URLs (http(s)://, s3://, ...): listing and fetching.

Remote bytes are fetched in the worker process, before the (forked, capped) parse: fsspec's
async HTTP machinery runs a background event loop that must not be forked. A fetched document
is parsed from a private local copy (tasks.snapshot), so the rest of the pipeline never knows
it was remote. HTTP has no directory listing, so an http(s) source is one document."""

from __future__ import annotations

from urllib.parse import urlsplit


def is_url(path: str) -> bool:
    scheme = urlsplit(path).scheme
    return len(scheme) > 1 and scheme != "file"


def filesystem(url: str):
    from fsspec.core import url_to_fs

    from docflow.settings import DocflowSettings

    options = {}
    if urlsplit(url).scheme in ("http", "https"):
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=DocflowSettings().remote_timeout_s)
        options["client_kwargs"] = {"timeout": timeout}
        options["skip_instance_cache"] = True
    return url_to_fs(url, **options)


def list_documents(url: str) -> tuple[str, list[str]]:
    """(root URL, document URLs): an object-store prefix is walked, an http URL is itself."""
    fs, path = filesystem(url)
    if urlsplit(url).scheme in ("http", "https"):
        return url.rsplit("/", 1)[0], [url]
    protocol = urlsplit(url).scheme
    if fs.isdir(path):
        return url.rstrip("/"), [f"{protocol}://{p}" for p in sorted(fs.find(path))]
    return url.rsplit("/", 1)[0], [url]


def fetch(url: str) -> bytes:
    fs, path = filesystem(url)
    return fs.cat_file(path)
