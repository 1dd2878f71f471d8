import json
import shutil
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from docflow.core.models import EmbedBackend
from docflow.core.settings import DocflowSettings
from flows.pipeline import build_pipeline, open_target
from docflow.adapters.stores import open_store, target_of
from docflow.core.discover import discover
from tests.sources import SOURCES
from docflow.adapters.embedders.onnx import artifact_dir
from docflow.core.search import search
from tests import docbuilders as b
from docflow.adapters.embedders import embed_texts, embedder_for_table
from docflow.adapters.embedders.sentence_transformers import (
    default_model_path,
    dimension_from_files,
    embedding_dimension,
    model_revision,
    resolve_model,
)
from docflow.core.errors import DocflowSystemError

ROOT = Path(__file__).resolve().parents[2]


def test_bundled_model_embeds_offline_with_unit_vectors():
    path = default_model_path()
    vectors = embed_texts(["retry a failed batch", "how to retry failed batches", "banana bread"], path)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # similar sentences are nearer than unrelated ones: the real model, not random vectors
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


def test_the_backend_picks_the_embedder_and_every_backend_names_the_same_model():
    from docflow.adapters.embedders import embedder_for
    from docflow.adapters.embedders.onnx import OnnxEmbedder
    from docflow.adapters.embedders.sentence_transformers import DEFAULT_MODEL_NAME, TorchEmbedder

    path = default_model_path()
    torch_embedder, int8 = embedder_for(path), embedder_for(path, EmbedBackend.ONNX_INT8, threads=1)
    assert isinstance(torch_embedder, TorchEmbedder) and isinstance(int8, OnnxEmbedder)
    assert (int8.backend, int8.threads) == (EmbedBackend.ONNX_INT8, 1)
    for embedder in (torch_embedder, int8):
        assert (embedder.name, embedder.revision, embedder.dimension) == (DEFAULT_MODEL_NAME, model_revision(path), 384)
    with pytest.raises(DocflowSystemError, match="cpu only"):
        embedder_for(path, EmbedBackend.ONNX, device="cuda")


def test_dimension_from_config_files_matches_the_loaded_model():
    path = default_model_path()
    assert dimension_from_files(path) == embedding_dimension(path) == 384


def test_a_hub_name_is_refused_rather_than_downloaded():
    with pytest.raises(DocflowSystemError, match="never downloads"):
        resolve_model("sentence-transformers/all-mpnet-base-v2")


def test_model_revision_is_stable_and_local_paths_resolve(tmp_path):
    path = default_model_path()
    assert model_revision(path) == model_revision(path)
    assert resolve_model(path) == path
    assert resolve_model(None) == path


# --- backends -------------------------------------------------------------------------------

SAMPLE = [
    "How do I retry a failed batch?",
    "The entry count serves as a tie-breaker so that two tasks with the same priority are "
    "returned in the order they were added.",
    "zlib: +40 to +47 = 32 + (8 to 15) uses the low 4 bits of the value as the window size "
    "logarithm, and automatically accepts either the zlib or gzip format.",
    "banana bread",
    "mkstemp() does not put a dot between the file name and the suffix; if you need one, put it "
    "at the beginning of suffix.",
    "Return True if strings or bytes-like objects a and b are equal, otherwise False, using a "
    "constant-time compare to reduce the risk of timing attacks.",
    "Le renard brun rapide saute par-dessus le chien paresseux.",
    # longer than the model's 256 word pieces: truncated the same way by both
    " ".join(["When decompressing a stream, the window size must not be smaller than the size "
              "originally used to compress the stream."] * 20),
]


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("model-cache"))


@pytest.mark.parametrize("backend", [EmbedBackend.ONNX, EmbedBackend.ONNX_INT8])
def test_onnx_backends_load_offline_and_agree_with_fp32_torch(backend, model_cache):
    path = default_model_path()
    reference = embed_texts(SAMPLE, path, backend=EmbedBackend.TORCH)
    vectors = embed_texts(SAMPLE, path, batch_size=3, backend=backend, cache_dir=model_cache)
    assert vectors.shape == (len(SAMPLE), dimension_from_files(path)) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = (vectors * reference).sum(axis=1)
    assert cosine.min() >= (0.9999 if backend is EmbedBackend.ONNX else 0.98), cosine
    assert embed_texts([], path, backend=backend, cache_dir=model_cache).shape == (0, 384)
    # A text's vector does not depend on the texts it is embedded with (int8 scales its
    # activations per call, so it embeds one text per call).
    alone = embed_texts(SAMPLE[:1], path, backend=backend, cache_dir=model_cache)[0]
    assert float(alone @ vectors[0]) >= 0.99999, float(alone @ vectors[0])


def test_built_models_are_keyed_by_the_source_models_bytes(tmp_path):
    source = default_model_path()
    same, edited = tmp_path / "same" / "model", tmp_path / "edited" / "model"
    shutil.copytree(source, same)
    shutil.copytree(source, edited)
    config = edited / "config_sentence_transformers.json"
    config.write_bytes(config.read_bytes().replace(b"{", b"{ ", 1))
    assert artifact_dir(str(same), "/c") == artifact_dir(source, "/c")  # where it lives does not matter
    assert artifact_dir(str(edited), "/c") != artifact_dir(source, "/c")


def test_a_backend_change_changes_every_fingerprint_and_never_mixes_in_one_table(tmp_path):
    torch_settings = DocflowSettings(db=str(tmp_path / "db"), home=tmp_path / "home", embed_backend="torch")
    int8_settings = torch_settings.model_copy(update={"embed_backend": EmbedBackend.ONNX_INT8})
    torch_pipeline, int8_pipeline = build_pipeline(torch_settings), build_pipeline(int8_settings)
    assert int8_pipeline.config.embed_precision == "int8"
    assert torch_pipeline.config.fingerprint() != int8_pipeline.config.fingerprint()
    source = tmp_path / "src"
    b.make_corpus(source, 3, kinds=("txt",))
    before = {d.doc_id: d.fingerprint for d in discover([str(source)], torch_pipeline.config.fingerprint(), source_for=SOURCES).documents}
    after = {d.doc_id: d.fingerprint for d in discover([str(source)], int8_pipeline.config.fingerprint(), source_for=SOURCES).documents}
    assert before.keys() == after.keys() and all(before[k] != after[k] for k in before)  # all re-embed

    open_target(torch_settings, torch_pipeline)
    with pytest.raises(DocflowSystemError, match="embed backend torch"):
        open_target(int8_settings, int8_pipeline)
    other = int8_settings.model_copy(update={"table": "chunks_int8"})
    open_target(other, build_pipeline(other))
    pipeline = open_store(target_of(other)).info().pipeline
    assert (pipeline["embed_backend"], pipeline["embed_precision"]) == ("onnx-int8", "int8")


def test_search_embeds_with_the_tables_backend_and_refuses_another(tmp_path, model_cache):
    settings = DocflowSettings(db=str(tmp_path / "db"), home=tmp_path / "home", embed_backend="onnx-int8")
    open_target(settings, build_pipeline(settings))
    store = open_store(target_of(settings))
    assert search(store, "anything", partial(embedder_for_table, cache_dir=model_cache)) == []
    with pytest.raises(DocflowSystemError, match="embedded with backend onnx-int8"):
        search(store, "anything", partial(embedder_for_table, backend="torch", cache_dir=model_cache))


FIRST_USE = """
import json, os, sys, time
import docflow
from docflow.adapters.embedders import embed_texts, onnx
from docflow.adapters.embedders.sentence_transformers import default_model_path
while not os.path.exists(sys.argv[2]):
    time.sleep(0.01)
built = onnx.ensure_built(default_model_path(), sys.argv[1], onnx.EmbedBackend.ONNX_INT8)
vector = embed_texts(["first use"], default_model_path(), backend="onnx-int8", cache_dir=sys.argv[1])
print(json.dumps({"built": built.built, "path": str(built.path), "norm": float((vector ** 2).sum())}))
"""


def test_two_processes_on_first_use_build_the_quantized_model_once(tmp_path):
    cache, go = tmp_path / "cache", tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", FIRST_USE, str(cache), str(go)], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    time.sleep(2)  # both interpreters up and waiting, then released together
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(r["built"] for r in results) == [False, True]
    assert results[0]["path"] == results[1]["path"] and all(abs(r["norm"] - 1) < 1e-4 for r in results)
    folder = Path(results[0]["path"]).parent
    builds = [json.loads(line) for line in (folder / "builds.jsonl").read_text().splitlines()]
    assert [b["backend"] for b in builds] == ["onnx-int8"]
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_an_unset_backend_is_the_tables_and_onnx_int8_for_a_new_table(tmp_path):
    """Changing the default never re-embeds or refuses a table made with another backend."""
    unset = DocflowSettings(db=str(tmp_path / "db"), home=tmp_path / "home")
    assert build_pipeline(unset).config.embed_backend == "onnx-int8"  # no table yet
    torch_settings = unset.model_copy(update={"embed_backend": EmbedBackend.TORCH})
    torch_pipeline = build_pipeline(torch_settings)
    open_target(torch_settings, torch_pipeline)
    again = build_pipeline(unset)
    assert again.config == torch_pipeline.config  # same fingerprint: nothing is re-embedded
    open_target(unset, again)  # and the table is not refused


def test_a_new_table_of_a_model_onnx_cannot_run_defaults_to_torch(tmp_path):
    """The default backend must not fail a run the user did not configure a backend for."""
    model = tmp_path / "model-with-dense"
    shutil.copytree(default_model_path(), model)
    modules = json.loads((model / "modules.json").read_text())
    modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (model / "modules.json").write_text(json.dumps(modules))
    unset = DocflowSettings(db=str(tmp_path / "db"), home=tmp_path / "home", model=str(model))
    assert build_pipeline(unset).config.embed_backend == "torch"
    assert build_pipeline(unset.model_copy(update={"model": None})).config.embed_backend == "onnx-int8"
    explicit = unset.model_copy(update={"embed_backend": EmbedBackend.ONNX_INT8})
    assert build_pipeline(explicit).config.embed_backend == "onnx-int8"  # refused later, with the reason
