"""The Embedder that runs a sentence-transformers model on ONNX Runtime (fp32 or int8), from
files built here from the local model.

sentence-transformers' own ONNX backend needs `optimum`, which is not installed and would look
for exported files on the hub; so the model is exported with torch.onnx, BERT's attention is
fused with onnxruntime's transformer optimizer, and the int8 variant is a dynamic quantization
(int8 weights per channel, full range: this CPU's AVX-512 VNNI needs no reduced range).
Tokenizing, mean pooling and normalizing run in numpy with the model's own tokenizer.json;
torch and transformers are needed only to build the files.

Built files live under a cache directory in a folder named by a hash of the source model's
bytes and the build recipe, are written to a temporary name and renamed into place, and are
built under a file lock: several workers starting at once build them once."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from docflow.adapters.embedders.sentence_transformers import SentenceTransformerModel, default_cache_dir
from docflow.core.errors import DocflowSystemError
from docflow.core.models import EmbedBackend, Stage

# Part of every artifact's folder name: bumped whenever the export or quantization changes.
BUILD_RECIPE = 1
_FILES = {EmbedBackend.ONNX: "model.onnx", EmbedBackend.ONNX_INT8: "model_int8.onnx"}
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class BuiltModel:
    path: Path
    built: bool  # this call built it (False: found in the cache, perhaps built by another process)


@functools.lru_cache(maxsize=8)
def source_hash(model_path: str) -> str:
    """sha256 over every file of the model (names and bytes): exported files are reused only
    for the very weights they came from."""
    digest = hashlib.sha256()
    root = Path(model_path)
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def artifact_dir(model_path: str, cache_dir: str) -> Path:
    import onnxruntime

    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(model_path).name)[:40] or "model"
    tag = f"{source_hash(model_path)[:20]}-r{BUILD_RECIPE}-ort{onnxruntime.__version__}"
    return Path(os.path.expanduser(cache_dir)) / f"{slug}-{tag}"


def ensure_built(model_path: str, cache_dir: str, backend: EmbedBackend) -> BuiltModel:
    """The backend's ONNX file, built on first use. Readers never see a half-written file
    (atomic rename) and concurrent first users wait on the lock instead of building twice."""
    from filelock import FileLock

    folder = artifact_dir(model_path, cache_dir)
    target = folder / _FILES[backend]
    if target.exists():
        return BuiltModel(target, built=False)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(folder / ".build.lock"), timeout=900):
            if target.exists():
                return BuiltModel(target, built=False)
            started = time.monotonic()
            fp32 = folder / _FILES[EmbedBackend.ONNX]
            if not fp32.exists():
                _atomic(fp32, lambda tmp: _export_fp32(model_path, tmp))
            if backend is EmbedBackend.ONNX_INT8:
                _atomic(target, lambda tmp: _quantize(fp32, tmp))
            _record_build(folder, backend, model_path, time.monotonic() - started)
            return BuiltModel(target, built=True)
    except DocflowSystemError:
        raise
    except Exception as exc:  # noqa: BLE001 - a model that cannot be exported is a config error
        raise DocflowSystemError(
            f"cannot build the {backend.value} model from {model_path}: {type(exc).__name__}: {exc}",
            stage=Stage.EMBED,
        ) from exc


def prebuild_default() -> None:
    """For set-up scripts: the first run on a fresh machine should not spend its first half
    minute exporting the model a new table uses by default."""
    from docflow.adapters.embedders.sentence_transformers import default_model_path
    from docflow.core.settings import NEW_TABLE_EMBED_BACKEND

    if NEW_TABLE_EMBED_BACKEND in _FILES:
        ensure_built(default_model_path(), default_cache_dir(), NEW_TABLE_EMBED_BACKEND)


def _atomic(target: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _record_build(folder: Path, backend: EmbedBackend, model_path: str, seconds: float) -> None:
    """builds.jsonl says which process built what and when: the evidence that concurrent
    first use built once."""
    line = {"backend": backend.value, "pid": os.getpid(), "source": model_path, "seconds": round(seconds, 2)}
    with (folder / "builds.jsonl").open("a") as handle:
        handle.write(json.dumps(line) + "\n")


def _export_fp32(model_path: str, out: Path) -> None:
    import warnings

    import torch
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(model_path, local_files_only=True)
    base = AutoModel.from_pretrained(model_path, local_files_only=True, attn_implementation="eager").eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.int64)
    axes = {name: {0: "batch", 1: "sequence"} for name in (*_INPUTS, "last_hidden_state")}
    raw = out.with_name(out.name + ".raw")
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            # The legacy exporter: the dynamo one needs onnxscript, which is not installed.
            torch.onnx.export(
                LastHiddenState(base), (sample, sample, torch.zeros_like(sample)), str(raw),
                input_names=list(_INPUTS), output_names=["last_hidden_state"], dynamic_axes=axes,
                opset_version=17, dynamo=False, do_constant_folding=True,
            )
        fused = optimize_model(
            str(raw), model_type="bert", num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size, opt_level=1,
        )
        fused.save_model_to_file(str(out))
    finally:
        raw.unlink(missing_ok=True)


def _quantize(fp32: Path, out: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True, reduce_range=False,
        # the fused Attention op is in the com.microsoft domain, where shape inference stops
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


@dataclass(frozen=True)
class _Pipeline:
    """What sentence-transformers would do around the transformer, read from the model folder."""

    max_seq_length: int
    pooling: str  # "mean" or "cls"
    dimension: int


def runs_on_onnx(model_path: str) -> bool:
    """Whether the ONNX backends can run this model folder (read from its config files, no
    export): a new table's default backend must not be one its model cannot use."""
    try:
        _pipeline_of(model_path)
    except (DocflowSystemError, OSError, ValueError, KeyError, IndexError):
        return False
    return True


def _pipeline_of(model_path: str) -> _Pipeline:
    root = Path(model_path)
    modules = json.loads((root / "modules.json").read_text())
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or set(kinds[2:]) - {"Normalize"}:
        raise DocflowSystemError(
            f"the ONNX backends support Transformer + Pooling (+ Normalize) models; "
            f"{model_path} has {kinds}: use embed_backend torch",
            stage=Stage.EMBED,
        )
    pooling_config = json.loads((root / modules[1]["path"] / "config.json").read_text())
    if pooling_config.get("pooling_mode_mean_tokens"):
        pooling = "mean"
    elif pooling_config.get("pooling_mode_cls_token"):
        pooling = "cls"
    else:
        raise DocflowSystemError(f"unsupported pooling in {model_path}: use embed_backend torch", stage=Stage.EMBED)
    st_config = root / "sentence_bert_config.json"
    max_len = json.loads(st_config.read_text()).get("max_seq_length", 512) if st_config.exists() else 512
    return _Pipeline(int(max_len), pooling, int(pooling_config["word_embedding_dimension"]))


class OnnxEncoder:
    """Encodes like SentenceTransformer.encode(normalize_embeddings=True), docflow's only use of
    it (unit vectors, cosine search): texts sorted by
    length so a batch pads little, truncation at the model's max_seq_length."""

    def __init__(self, model_path: str, onnx_path: Path, threads: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.pipeline = _pipeline_of(model_path)
        self.tokenizer = Tokenizer.from_file(str(Path(model_path) / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.pipeline.max_seq_length)
        pad = json.loads((Path(model_path) / "tokenizer_config.json").read_text()).get("pad_token", "[PAD]")
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id(pad) or 0, pad_token=pad)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads > 0:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        out = np.zeros((len(texts), self.pipeline.dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            picked = order[start : start + batch_size]
            out[picked] = self._batch([texts[i] for i in picked])
        return out

    def _batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
        if self.pipeline.pooling == "cls":
            vectors = hidden[:, 0]
        else:
            mask = feed["attention_mask"][..., None].astype(np.float32)
            vectors = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        vectors = vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        return vectors.astype(np.float32, copy=False)


@dataclass(frozen=True)
class OnnxEmbedder(SentenceTransformerModel):
    """`cache_dir` "": the machine-wide cache (sentence_transformers.default_cache_dir)."""

    backend: EmbedBackend = EmbedBackend.ONNX
    cache_dir: str = ""

    def _encode(self, texts: list[str]) -> np.ndarray:
        encoder = _encoder(self.model_path, self.backend, self.cache_dir or default_cache_dir(), self.threads)
        return encoder.encode(texts, _batch_size(self.backend, self.batch_size))


def _batch_size(backend: EmbedBackend, configured: int) -> int:
    """int8 texts go one per call. Dynamic quantization scales the activations once per batch
    tensor, so a text batched with others would get another vector than alone (cosine ~0.988),
    and the same document would move when it is re-embedded beside other chunks or a run is
    split over another number of workers. Unpadded single texts measured no slower here."""
    return 1 if backend is EmbedBackend.ONNX_INT8 else configured


@functools.lru_cache(maxsize=4)
def _encoder(model_path: str, backend: EmbedBackend, cache_dir: str, threads: int) -> OnnxEncoder:
    """One session per process, model, backend and thread count; onnxruntime takes the thread
    count when a session is created."""
    built = ensure_built(model_path, cache_dir, backend)
    try:
        return OnnxEncoder(model_path, built.path, threads)
    except DocflowSystemError:
        raise
    except Exception as exc:  # noqa: BLE001 - an unloadable model is a config error
        raise DocflowSystemError(
            f"cannot load the {backend.value} model {built.path}: {type(exc).__name__}: {exc}", stage="embed"
        ) from exc
