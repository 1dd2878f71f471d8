"""Documents behind fsspec URLs (http(s)://, s3://, ...): listing and fetching.

Remote bytes are fetched in the worker process, before the (forked, capped) parse: fsspec's
async HTTP machinery runs a background event loop that must not be forked. A fetched document
is parsed from a private local copy (docflow.core.snapshot), so the rest of the pipeline never knows
it was remote. HTTP has no directory listing, so an http(s) source is one document."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


def filesystem(url: str):
    from fsspec.core import url_to_fs

    from docflow.core.settings import DocflowSettings

    options = {}
    if urlsplit(url).scheme in ("http", "https"):
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=DocflowSettings().remote_timeout_s)
        options["client_kwargs"] = {"timeout": timeout}
        options["skip_instance_cache"] = True
    return url_to_fs(url, **options)


@dataclass(frozen=True)
class Listed:
    """What a listing says about one document without reading it."""

    version: str  # the store's version id, else its ETag; "" when the server gives neither
    size: int


def list_documents(url: str) -> tuple[str, dict[str, Listed]]:
    """(root URL, document URL -> Listed): an object-store prefix is walked (its listing pages
    carry each object's ETag and size), an http URL is itself and costs one HEAD."""
    fs, path = filesystem(url)
    if urlsplit(url).scheme in ("http", "https"):
        return url.rsplit("/", 1)[0], {url: _head(fs, url)}
    protocol = urlsplit(url).scheme
    if fs.isdir(path):
        found = fs.find(path, detail=True)
        return url.rstrip("/"), {f"{protocol}://{p}": _listed(info) for p, info in sorted(found.items())}
    return url.rsplit("/", 1)[0], {url: _listed(fs.info(path))}


def version_of(info: dict) -> str:
    """The object's version id (versioned buckets, GCS generations), else its ETag, from an
    fsspec info or listing entry."""
    version = next(
        (str(info[key]) for key in ("VersionId", "version_id", "generation", "ETag", "etag")
         if info.get(key) not in (None, "", "null")),
        "",
    )
    return version.strip('"')


def _listed(info: dict) -> Listed:
    return Listed(version_of(info), int(info.get("size") or 0))


def _head(fs, url: str) -> Listed:
    """A server that refuses HEAD or sends no ETag gets no version: the document is then
    downloaded to be hashed, and that download reports the error with its retry policy."""
    try:
        return _listed(fs.info(url))
    except Exception:  # noqa: BLE001 - see above
        return Listed("", 0)


def current_version(url: str) -> str:
    """The object's version as the server reports it now (a HEAD, never a cached listing); ""
    when it cannot say."""
    fs, path = filesystem(url)
    try:
        fs.invalidate_cache(path)
        return version_of(fs.info(path))
    except Exception:  # noqa: BLE001 - no version only means the next run fetches again
        return ""


def fetch(url: str) -> bytes:
    fs, path = filesystem(url)
    return fs.cat_file(path)
