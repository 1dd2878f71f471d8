"""Documents behind fsspec URLs (s3://, http(s)://, ...): listing with versions, HEAD, fetch.

Remote bytes are fetched in the worker process, before the (forked, capped) parse: fsspec's
async HTTP machinery runs a background event loop that must not be forked. A fetched document
is parsed from a private local copy (docflow.core.snapshot), so the rest of the pipeline never
knows it was remote. HTTP has no directory listing, so an http(s) location is one document.

An object whose listed version (version id or ETag, and size) is the recorded one keeps its
recorded hash: no GET. A document without a listed version (an http server without an ETag)
is always fetched to be hashed; fetching follows the retry policies, so a flaky server costs
retries, not a missing document."""

from __future__ import annotations

import hashlib
from typing import BinaryIO
from urllib.parse import urlsplit

from docflow.core import sniff
from docflow.core.discover import SourceError
from docflow.core.retry import PolicyExhausted, RetryPolicies, call_with_policy
from docflow.core.sourcing import Copied, Examined, Listed, Listing, Unreadable
from docflow.core.versions import Recorded, reusable_for_object

_HTTP = ("http", "https")


class FsspecSource:
    """`timeout_s`: a stalled HTTP server fails the request after this long (the transient
    retry policy then decides)."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    def list(self, location: str) -> Listing:
        """An object-store prefix is walked (its listing pages carry each object's version and
        size); an http URL is itself and costs one HEAD."""
        try:
            return self._list(location)
        except Exception as exc:  # noqa: BLE001 - any listing failure: unreachable
            raise SourceError(f"source unreachable: {location}: {type(exc).__name__}: {exc}") from exc

    def _list(self, url: str) -> Listing:
        fs, path = self._filesystem(url)
        scheme = urlsplit(url).scheme
        if scheme in _HTTP:
            return Listing(url.rsplit("/", 1)[0], (_head(fs, url),))
        if fs.isdir(path):
            found = fs.find(path, detail=True)
            return Listing(url.rstrip("/"), tuple(_listed(f"{scheme}://{p}", info) for p, info in sorted(found.items())))
        return Listing(url.rsplit("/", 1)[0], (_listed(url, fs.info(path)),))

    def examine(
        self, listed: Listed, listing: Listing, recorded: Recorded | None, rehash: bool, defer: bool
    ) -> Examined | Unreadable:
        if not rehash and listed.version:
            reused = reusable_for_object(recorded, listed.version, listed.size)
            if reused or defer:
                return Examined(reused or "", listed.size, version=listed.version)
        try:
            data = call_with_policy(
                lambda: self._fetch(listed.path), stage="discover", policies=RetryPolicies()
            ).value
        except PolicyExhausted as exhausted:
            return Unreadable(exhausted.error.error_class, exhausted.error.message)
        return Examined(
            hashlib.sha256(data).hexdigest(), len(data), version=listed.version, head=data[: sniff.HEAD_BYTES],
            read=True,
        )

    def copy(self, path: str, writer: BinaryIO) -> Copied:
        """One plain GET (fsspec's `cat_file`): no range requests, which not every server
        answers, and no ETag pinned by a listing this process cached earlier. The object's
        version is asked before and after it (no body is fetched for that)."""
        before = self._current_version(path)
        data = self._fetch(path)
        writer.write(data)
        version = before if before == self._current_version(path) else ""
        return Copied(hashlib.sha256(data).hexdigest(), len(data), None, version)

    def _filesystem(self, url: str):
        from fsspec.core import url_to_fs

        options = {}
        if urlsplit(url).scheme in _HTTP:
            import aiohttp

            options["client_kwargs"] = {"timeout": aiohttp.ClientTimeout(total=self.timeout_s)}
            options["skip_instance_cache"] = True
        return url_to_fs(url, **options)

    def _current_version(self, url: str) -> str:
        """The object's version as the server reports it now (a HEAD, never a cached listing);
        "" when it cannot say: the next run then fetches again."""
        fs, path = self._filesystem(url)
        try:
            fs.invalidate_cache(path)
            return _version_of(fs.info(path))
        except Exception:  # noqa: BLE001 - see above
            return ""

    def _fetch(self, url: str) -> bytes:
        fs, path = self._filesystem(url)
        return fs.cat_file(path)


def _version_of(info: dict) -> str:
    """The object's version id (versioned buckets, GCS generations), else its ETag, from an
    fsspec info or listing entry."""
    version = next(
        (str(info[key]) for key in ("VersionId", "version_id", "generation", "ETag", "etag")
         if info.get(key) not in (None, "", "null")),
        "",
    )
    return version.strip('"')


def _listed(url: str, info: dict) -> Listed:
    return Listed(url, _version_of(info), int(info.get("size") or 0))


def _head(fs, url: str) -> Listed:
    """A server that refuses HEAD or sends no ETag gets no version: the document is then
    downloaded to be hashed, and that download reports the error with its retry policy."""
    try:
        return _listed(url, fs.info(url))
    except Exception:  # noqa: BLE001 - see above
        return Listed(url)
