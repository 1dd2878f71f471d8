import numpy as np
import pytest

from tasks.embed import (
    default_model_path,
    dimension_from_files,
    embed_texts,
    embedding_dimension,
    model_revision,
    resolve_model,
)
from tasks.errors import DocflowSystemError


def test_bundled_model_embeds_offline_with_unit_vectors():
    path = default_model_path()
    vectors = embed_texts(["retry a failed batch", "how to retry failed batches", "banana bread"], path)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # similar sentences are nearer than unrelated ones: the real model, not random vectors
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


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
