"""The discovery step: list the sources against the ledger's recorded versions, and record
the new stat of finished documents discovery had to hash, so the next run does not again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from docflow.adapters.sources import Sources
from docflow.adapters.stores import open_state
from docflow.core.discover import Discovery, SourceError, discover
from docflow.core.models import DocRef, Target
from docflow.core.settings import DocflowSettings
from docflow.core.versions import RecordedVersions
from flows.pipeline import Pipeline
from flows.memory import return_freed_memory


@dataclass(frozen=True)
class Found:
    """Discovery's result, whether the source was unreachable (a sync then deletes nothing),
    and the versions the ledger had recorded (None: nothing indexed yet)."""

    discovery: Discovery
    unreachable: bool
    recorded: RecordedVersions | None


def recorded_versions(target: Target, generation: str):
    """None when nothing is indexed yet: every document is read. What the scan's threads freed
    goes back to the system before discovery adds its own objects (flows.memory)."""
    if not generation:
        return None
    recorded = open_state(target).recorded_versions()
    return_freed_memory()
    return recorded


def discover_documents(paths: Sequence[str], pipeline: Pipeline, settings: DocflowSettings, tolerate_missing: bool,
                       recorded, rehash: bool) -> Found:
    """A sync treats a missing source root as an empty, unreachable listing (the mass-delete
    guard then refuses to delete); an ingest treats it as a usage error."""
    try:
        found = discover(
            paths, pipeline.config.fingerprint(), settings.include, settings.exclude, recorded, rehash,
            defer_changed_objects=True, source_for=Sources(settings.remote_timeout_s),
        )
        return Found(found, False, recorded)
    except SourceError:
        if not tolerate_missing:
            raise
        return Found(Discovery((), ()), True, recorded)


def refresh_versions(target: Target, finished: list[DocRef], recorded) -> None:
    """Finished documents that discovery had to hash (touched, or racily clean) and found
    unchanged get their new stat recorded, so the next run does not read them again."""
    stale = []
    for doc in finished:
        before = recorded.get(doc.doc_id)
        if before is None or not doc.observed_ns:
            continue
        if (doc.size, doc.mtime_ns, doc.ctime_ns, doc.inode, doc.observed_ns, doc.version) != (
            before.stat.size, before.stat.mtime_ns, before.stat.ctime_ns, before.stat.inode,
            before.observed_ns, before.version,
        ):
            stale.append(doc)
    open_state(target).refresh_versions(stale)
