"""The Prefect blocks behind docflow's UI forms.

Configuration that many runs share (where the table lives, which model embeds, which files make
up a corpus, how each error class is retried) is saved once as a named block in the Prefect UI
or API; a flow run then names the block instead of repeating the values (blocks.resolve). Every
field is validated here, when the block is saved, not half way through a run."""

from __future__ import annotations

from pydantic import Field, field_validator
from prefect.blocks.core import Block
from prefect.types import SecretDict

from docflow.core.models import EmbedBackend
from docflow.core.settings import ADDRESS_PATTERN, DocflowSettings
from docflow.core.retry import RetryPolicies


class StoreTarget(Block):
    """Where chunks are written: a store's database and the chunk table inside it."""

    _block_type_name = "docflow store target"
    _block_type_slug = "docflow-store-target"

    store: str = Field(
        "",
        pattern=r"^[A-Za-z0-9_.-]{0,64}$",
        description="Vector store adapter by its registered name; empty: the default store.",
    )
    uri: str = Field(
        min_length=1,
        description="The store's database URI: a local directory or an object-store URL (s3://, gs://, az://).",
    )
    table: str = Field(
        DocflowSettings.model_fields["table"].default,
        min_length=1,
        max_length=128,
        description="Chunk table name; the ledger is <table>_ledger and the run history <table>_runs.",
    )
    # SecretDict, not dict[str, SecretStr]: the API obfuscates a secret field by its exact key,
    # so the values of a non-empty dict[str, SecretStr] come back in clear text, while
    # SecretDict's fields are obfuscated one by one ("storage_options.*").
    storage_options: SecretDict = Field(
        default_factory=lambda: SecretDict({}),
        description="Object-store options (access keys, tokens, region, endpoint). Every value is "
        "a secret: the UI and the API show it obfuscated.",
    )


class DaskCluster(Block):
    """An existing Dask scheduler the flows send their batches to (instead of a local cluster)."""

    _block_type_name = "docflow dask cluster"
    _block_type_slug = "docflow-dask-cluster"

    address: str = Field(
        ...,
        pattern=ADDRESS_PATTERN,
        description="Scheduler address, e.g. tcp://10.0.0.5:8786. The store's database and the "
        "checkpoint directory must be storage every worker sees.",
    )


class Embedder(Block):
    """The embedding model and how it runs. Empty fields keep docflow's settings."""

    _block_type_name = "docflow embedder"
    _block_type_slug = "docflow-embedder"

    model: str | None = Field(
        None,
        description="Local model directory (docflow never downloads a model at run time); empty: "
        "the bundled all-MiniLM-L6-v2.",
    )
    batch_size: int | None = Field(
        None, ge=1, le=1024, description="Texts per encode call; empty: DOCFLOW_EMBED_BATCH_SIZE or 32."
    )
    device: str | None = Field(
        None,
        pattern=r"^(cpu|cuda(:\d+)?|mps)$",
        description="torch device: cpu, cuda, cuda:N or mps; empty: cpu.",
    )
    backend: EmbedBackend | None = Field(
        None,
        description="How the model runs: torch, onnx or onnx-int8 (an ONNX export built on first "
        "use, cpu only); empty: DOCFLOW_EMBED_BACKEND or docflow's default. A table keeps the "
        "backend it was built with.",
    )


class DocumentSource(Block):
    """Which documents make up a corpus: roots plus glob filters on document ids."""

    _block_type_name = "docflow document source"
    _block_type_slug = "docflow-document-source"

    roots: list[str] = Field(
        min_length=1,
        description="Directories (walked recursively), single files or globs; file:// URLs; "
        "object-store prefixes (s3://bucket/prefix, walked) and http(s) URLs (one document "
        "each). A document's id is its path relative to its root.",
    )
    include: list[str] = Field(default_factory=list, description="Globs on document ids to include.")
    exclude: list[str] = Field(default_factory=list, description="Globs on document ids to exclude.")

    @field_validator("roots")
    @classmethod
    def _readable_roots(cls, roots: list[str]) -> list[str]:
        """A URL whose fsspec file system is not installed here (gs:// without gcsfs) or does
        not exist would only fail at run time, so it is refused when the block is saved."""
        from docflow.adapters.sources import unreadable_reason
        from docflow.core.locations import is_remote, local_path

        checked = []
        for root in roots:
            if not is_remote(root):
                checked.append(local_path(root))
                continue
            reason = unreadable_reason(root)
            if reason:
                raise ValueError(f"{root!r}: {reason}")
            checked.append(root)
        return checked


class RetryPoliciesBlock(Block):
    """How each error class is retried: docflow.core.retry.RetryPolicies, saved under a name."""

    _block_type_name = "docflow retry policies"
    _block_type_slug = "docflow-retry-policies"

    policies: RetryPolicies = Field(
        default_factory=RetryPolicies,
        description="One policy per error class: transient, missing, resource, parse, system.",
    )
