"""What a run builds before it processes anything: the pipeline (model, parser, chunking and
their fingerprint), the target tables, and the context every worker gets with its batches."""

from __future__ import annotations

from dataclasses import dataclass

from docflow.adapters.embedders import embedder_for
from docflow.adapters.embedders.sentence_transformers import dimension_from_files, embedding_dimension, model_label
from docflow.adapters.embedders.sentence_transformers import model_revision, resolve_model, table_embed_backend
from docflow.adapters.embedders.onnx import runs_on_onnx
from docflow.adapters.parsers import parsers_for
from docflow.adapters.parsers.parse import PDF_STRATEGY, parser_version
from docflow.adapters.sources import Sources
from docflow.adapters.stores import open_state, open_store, target_of
from docflow.core import credentials
from docflow.core.chunk import ChunkSettings
from docflow.core.elements import OcrSettings
from docflow.core.errors import DocflowSystemError
from docflow.core.models import EmbedBackend, PipelineConfig, Stage, Target
from docflow.core.process import BatchContext
from docflow.core.retry import RetryPolicies
from docflow.core.settings import NEW_TABLE_EMBED_BACKEND, SCHEMA_VERSION, DocflowSettings


@dataclass(frozen=True)
class Pipeline:
    config: PipelineConfig
    model_path: str
    chunking: ChunkSettings
    ocr: OcrSettings


@dataclass(frozen=True)
class OpenRun:
    """A run past its plan: what it processes with and where it writes."""

    settings: DocflowSettings
    policies: RetryPolicies
    pipeline: Pipeline
    target: Target
    generation: str


def embed_backend_of(settings: DocflowSettings, model_path: str) -> EmbedBackend:
    """An unset backend is the table's, so an existing table is never re-embedded or refused
    because the default changed; a new table gets NEW_TABLE_EMBED_BACKEND, or torch for a
    model the ONNX backends cannot run (a default should not fail a run the user did not
    configure; an explicit onnx backend still fails with the reason)."""
    if settings.embed_backend is not None:
        return settings.embed_backend
    info = open_store(target_of(settings)).info()
    if info is not None:
        return table_embed_backend(info.pipeline)
    if NEW_TABLE_EMBED_BACKEND is not EmbedBackend.TORCH and not runs_on_onnx(model_path):
        return EmbedBackend.TORCH
    return NEW_TABLE_EMBED_BACKEND


def build_pipeline(settings: DocflowSettings) -> Pipeline:
    model_path = resolve_model(settings.model)
    backend = embed_backend_of(settings, model_path)
    chunking = ChunkSettings(
        max_characters=settings.chunk_max_characters,
        new_after_n_chars=settings.chunk_new_after_n_chars,
        combine_under_n_chars=settings.chunk_combine_under_n_chars,
        overlap=settings.chunk_overlap,
        carry_title=settings.chunk_carry_title,
    )
    config = PipelineConfig(
        model_name=model_label(model_path),
        model_revision=model_revision(model_path),
        parser=parser_version(),
        pdf_strategy=PDF_STRATEGY,
        ocr_languages=settings.ocr_languages,
        ocr_dpi=settings.ocr_dpi,
        chunk_max_characters=chunking.max_characters,
        chunk_new_after_n_chars=chunking.new_after_n_chars,
        chunk_combine_under_n_chars=chunking.combine_under_n_chars,
        chunk_overlap=chunking.overlap,
        chunk_carry_title=chunking.carry_title,
        schema_version=SCHEMA_VERSION,
        embed_backend=backend.value,
        embed_precision=backend.precision,
    )
    return Pipeline(config, model_path, chunking, OcrSettings(settings.ocr_languages, settings.ocr_dpi))


def open_target(
    settings: DocflowSettings, pipeline: Pipeline, create: bool = True
) -> tuple[Target, str]:
    """Create the tables if needed and return the target with the chunk table's generation
    ("" when `create` is off and there is no table yet: nothing is indexed)."""
    target = target_of(settings)
    store = open_store(target)
    if not create and store.info() is None:
        return target, ""
    dim = dimension_from_files(pipeline.model_path) or embedding_dimension(pipeline.model_path)
    info = store.ensure(dim, pipeline_meta(pipeline))
    open_state(target).ensure()
    if info.dim not in (None, dim):
        raise DocflowSystemError(
            f"table {settings.table!r} holds {info.dim}-dimensional vectors but model "
            f"{pipeline.config.model_name} makes {dim}; use another --table",
            stage=Stage.CONFIG,
        )
    table_backend = table_embed_backend(info.pipeline)
    if table_backend.value != pipeline.config.embed_backend:
        raise DocflowSystemError(
            f"table {settings.table!r} holds vectors of embed backend {table_backend.value}, this run "
            f"embeds with {pipeline.config.embed_backend}; vectors of two backends never share a "
            f"table: use another --table, or --embed-backend {table_backend.value}",
            stage=Stage.CONFIG,
        )
    return target, info.generation


def pipeline_meta(pipeline: Pipeline) -> dict:
    return {
        "model_name": pipeline.config.model_name,
        "model_path": pipeline.model_path,
        "model_revision": pipeline.config.model_revision,
        "embed_backend": pipeline.config.embed_backend,
        "embed_precision": pipeline.config.embed_precision,
        "fingerprint": pipeline.config.fingerprint(),
    }


def batch_context(
    target: Target,
    generation: str,
    pipeline: Pipeline,
    settings: DocflowSettings,
    policies: RetryPolicies,
    run_id: str,
    retry_failed: bool = False,
    torch_threads: int = 0,
) -> BatchContext:
    """Everything a worker needs to process a batch, from the run's settings; `torch_threads`
    per worker process (0: the worker's default), from the task runner."""
    return BatchContext(
        target=credentials.for_workers(target, settings),
        generation=generation,
        source_for=Sources(settings.remote_timeout_s),
        parser_for=parsers_for(pipeline.ocr),
        embedder=embedder_for(
            pipeline.model_path, EmbedBackend(pipeline.config.embed_backend), settings.device, settings.embed_batch_size,
            torch_threads, settings.model_cache_dir,
        ),
        chunking=pipeline.chunking,
        policies=policies,
        run_id=run_id,
        pipeline_fingerprint=pipeline.config.fingerprint(),
        ignore_checkpoints=retry_failed,
        parse_timeout_s=settings.parse_timeout_s,
        parse_memory_mb=settings.parse_memory_mb,
        parse_timeout_s_per_mb=settings.parse_timeout_s_per_mb,
        max_text_chars=settings.max_text_chars,
        max_chunks=settings.max_chunks,
    )
