"""Per-document checkpoints in a Prefect result store.

Documents travel in batches (one task run each), so a task-level cache key cannot say which
documents of a batch are finished. Each document therefore gets its own Prefect result record,
written through `prefect.results.ResultStore` under a key derived from its fingerprint, with the
record metadata in separate key storage. Before submitting anything the flow asks the same store
which keys exist, from one listing of the key storage by shard (a stat per key on a local
disk): a rerun over N finished documents costs no task run and no read of a record.

The key is `<doc dir>/<fingerprint>`: the directory is derived from the table generation (a
dropped and recreated table forgets everything) and the doc_id (two identical files are two
documents). Before a document's chunks are replaced, its directory is emptied (`forget`), so a
checkpoint of an older version can never survive the chunks it stood for: a file reverted to
old bytes after a crash is redone, not skipped with newer chunks in the table."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import asdict

from docflow.core.credentials import fsspec_options
from docflow.core.locations import is_remote, local_path
from docflow.core.models import DocOutcome, DocRef, Target


def doc_dir(generation: str, doc_id: str) -> str:
    digest = hashlib.sha256(f"{generation}|{doc_id}".encode()).hexdigest()
    return f"{digest[:2]}/{digest}"


def checkpoint_key(generation: str, doc: DocRef) -> str:
    return f"{doc_dir(generation, doc.doc_id)}/{doc.fingerprint}"


def default_checkpoint_dir(db: str, table: str) -> str:
    if is_remote(db):
        return f"{db.rstrip('/')}/_docflow/checkpoints/{table}"
    return os.path.join(os.path.abspath(local_path(db)), "_docflow", "checkpoints", table)


def open_store(checkpoint_dir: str, storage_options: Mapping[str, str] | None = None):
    from prefect.filesystems import LocalFileSystem, RemoteFileSystem
    from prefect.results import ResultStore
    from prefect.serializers import JSONSerializer

    def storage(sub: str):
        path = f"{checkpoint_dir.rstrip('/')}/{sub}"
        if is_remote(checkpoint_dir):
            return RemoteFileSystem(basepath=path, settings=fsspec_options(checkpoint_dir, storage_options or {}))
        return LocalFileSystem(basepath=local_path(path))

    return ResultStore(
        result_storage=storage("results"),
        metadata_storage=storage("keys"),
        serializer=JSONSerializer(),
        cache_result_in_memory=False,
    )


SHARDS = tuple(f"{i:02x}" for i in range(256))
# Shard listings in flight against an object store: each is a paginated LIST of its own prefix.
LIST_PARALLELISM = 32


def listed_keys(checkpoint_dir: str, storage_options: Mapping[str, str] | None = None) -> set[str]:
    """Every non-empty checkpoint key in an object store, as `<shard>/<doc dir>/<fingerprint>`."""
    from concurrent.futures import ThreadPoolExecutor

    from fsspec.core import url_to_fs

    fs, root = url_to_fs(checkpoint_dir, **fsspec_options(checkpoint_dir, storage_options or {}))
    keys_root = f"{root.rstrip('/')}/keys/"

    def shard(name: str) -> list[str]:
        found = fs.find(f"{keys_root}{name}/", detail=True)
        return [path[len(keys_root):] for path, info in found.items() if info.get("size")]

    with ThreadPoolExecutor(LIST_PARALLELISM) as pool:
        return {key for keys in pool.map(shard, SHARDS) for key in keys}


def _nonempty_file(path: str) -> bool:
    try:
        info = os.stat(path, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size > 0


class PrefectCheckpoints:
    """The Checkpoints port on a Prefect result store under `directory`, for one generation."""

    def __init__(self, directory: str, generation: str, storage_options: Mapping[str, str] | None = None) -> None:
        self.directory = directory
        self.generation = generation
        self._options = dict(storage_options or {})
        self._results = None

    @classmethod
    def of(cls, target: Target, generation: str) -> PrefectCheckpoints:
        return cls(target.checkpoint_dir, generation, target.options)

    @property
    def results(self):
        if self._results is None:
            self._results = open_store(self.directory, self._options)
        return self._results

    def finished(self, docs: Iterable[DocRef]) -> set[str]:
        """One read per document, for a batch; a whole corpus asks `finished_listed`."""
        return {doc.doc_id for doc in docs if self.results.exists(checkpoint_key(self.generation, doc))}

    def finished_listed(self, docs: Iterable[DocRef]) -> set[str]:
        """The same answer as `finished` without reading any record: on an object store from
        a listing of the key storage, shard by shard (one request per document otherwise); on
        a local disk from one stat of each expected key file, which costs a system call where
        a listing would open a directory per document and hold every key of the corpus.

        A record counts when its key file exists and is not empty. Prefect writes the result
        first and the key file after it, so a key file exists only once its result is complete;
        a kill between creating the key file and its single write() leaves it empty, which
        counts as absent, as `exists` counts an unreadable one. An object store's PUT is
        atomic."""
        if not is_remote(self.directory):
            keys_root = os.path.join(local_path(self.directory), "keys")
            return {doc.doc_id for doc in docs
                    if _nonempty_file(os.path.join(keys_root, checkpoint_key(self.generation, doc)))}
        present = listed_keys(self.directory, self._options)
        return {doc.doc_id for doc in docs if checkpoint_key(self.generation, doc) in present}

    def record(self, doc: DocRef, outcome: DocOutcome, run_id: str) -> None:
        payload = asdict(outcome)
        payload.update(status=outcome.status.value, run_id=run_id, content_sha256=doc.content_sha256)
        if outcome.error_class is not None:
            payload["error_class"] = outcome.error_class.value
        self.results.write(obj=payload, key=checkpoint_key(self.generation, doc))

    def forget(self, doc_ids: Iterable[str]) -> None:
        from fsspec.core import url_to_fs

        fs, root = url_to_fs(self.directory, **fsspec_options(self.directory, self._options))
        for doc_id in doc_ids:
            for sub in ("keys", "results"):
                path = f"{root.rstrip('/')}/{sub}/{doc_dir(self.generation, doc_id)}"
                if fs.exists(path):
                    fs.rm(path, recursive=True)
