"""docflow's blocks: validated when saved, registered with Prefect's own command, secrets kept
out of the API, and turned into a flow run's plain values with plain values winning."""

import subprocess
import sys

import httpx
import pytest
from pydantic import ValidationError

from blocks import BLOCK_TYPES, DocumentSource, Embedder, StoreTarget, RetryPoliciesBlock
from blocks.resolve import resolve
from docflow.core.retry import RetryPolicies, RetryPolicy

PLAIN = dict(paths=None, db=None, table=None, include=None, exclude=None, model=None,
             retry_policies=None, source=None, target=None, embedder=None)


def test_blocks_validate_when_saved():
    assert DocumentSource(roots=["file:///data/docs", "/srv/more"]).roots == ["/data/docs", "/srv/more"]
    remote = ["s3://bucket/docs", "https://example.org/handbook.pdf"]
    assert DocumentSource(roots=remote).roots == remote
    with pytest.raises(ValidationError, match="cannot read gs://"):
        DocumentSource(roots=["gs://bucket/docs"])  # gcsfs is not installed
    with pytest.raises(ValidationError, match="cannot read nosuch://"):
        DocumentSource(roots=["nosuch://x"])
    with pytest.raises(ValidationError):
        DocumentSource(roots=[])
    with pytest.raises(ValidationError):
        Embedder(batch_size=0)
    with pytest.raises(ValidationError):
        Embedder(device="gpu")
    with pytest.raises(ValidationError):
        Embedder(backend="tensorrt")
    with pytest.raises(ValidationError):
        RetryPoliciesBlock(policies={"parse": {"retries": 99}})


def test_retry_block_reuses_the_pipeline_policies():
    assert RetryPoliciesBlock.model_fields["policies"].annotation is RetryPolicies
    assert RetryPoliciesBlock().policies == RetryPolicies()


@pytest.mark.e2e
def test_prefect_block_register_finds_every_block(prefect_api, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "prefect", "block", "register", "-m", "blocks"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,  # the installed package, not the cwd
    )
    assert result.returncode == 0, result.stdout + result.stderr
    slugs = {t["slug"] for t in httpx.post(f"{prefect_api}/block_types/filter", json={}).json()}
    assert {t.get_block_type_slug() for t in BLOCK_TYPES} <= slugs


@pytest.mark.e2e
def test_storage_options_are_secret_in_the_api_and_usable_when_loaded(prefect_api):
    StoreTarget(uri="s3://bucket/db", storage_options={"aws_secret_access_key": "s3cr3t"}).save(
        "secret-target", overwrite=True
    )
    stored = httpx.get(
        f"{prefect_api}/block_types/slug/docflow-store-target/block_documents/name/secret-target"
    ).json()
    assert "s3cr3t" not in str(stored["data"])
    loaded = StoreTarget.load("secret-target")
    assert loaded.storage_options.get_secret_value() == {"aws_secret_access_key": "s3cr3t"}


@pytest.mark.e2e
def test_resolve_fills_from_blocks_and_plain_values_win(prefect_api):
    StoreTarget(uri="/data/db", table="docs").save("rt-target", overwrite=True)
    DocumentSource(roots=["/data/src"], include=["*.md"], exclude=["draft*"]).save("rt-source", overwrite=True)
    Embedder(model="/models/minilm", batch_size=8, device="cpu", backend="onnx-int8").save("rt-embedder", overwrite=True)
    RetryPoliciesBlock(policies=RetryPolicies(parse=RetryPolicy(retries=0))).save("rt-retry", overwrite=True)

    inputs = resolve(**{**PLAIN, "source": "rt-source", "target": "rt-target", "embedder": "rt-embedder",
                        "retry_policies": "rt-retry", "table": "override", "exclude": ["old*"]})
    assert (inputs.paths, inputs.db, inputs.table) == (["/data/src"], "/data/db", "override")
    assert (inputs.include, inputs.exclude, inputs.model) == (["*.md"], ["old*"], "/models/minilm")
    assert inputs.retry_policies.parse.retries == 0

    settings = inputs.settings()
    assert (settings.device, settings.embed_batch_size, settings.storage_options) == ("cpu", 8, {})
    assert settings.embed_backend == "onnx-int8"

    plain = resolve(**{**PLAIN, "paths": ["/x"], "retry_policies": RetryPolicies()})
    assert (plain.paths, plain.db, plain.retry_policies) == (["/x"], None, RetryPolicies())


@pytest.mark.e2e
def test_a_target_blocks_storage_options_reach_the_run_in_clear(prefect_api):
    from docflow.adapters.stores import target_of

    options = {"aws_access_key_id": "AKIA", "aws_secret_access_key": "s3cr3t", "aws_region": "eu-west-1"}
    StoreTarget(uri="s3://bucket/db", storage_options=options).save("s3-target", overwrite=True)
    inputs = resolve(**{**PLAIN, "paths": ["/x"], "target": "s3-target"})
    target = target_of(inputs.settings())
    assert (target.db, target.options) == ("s3://bucket/db", options)
    assert "s3cr3t" not in repr(target) and "s3cr3t" not in repr(inputs.settings())


@pytest.mark.e2e
def test_resolve_refuses_what_it_cannot_honour(prefect_api):
    with pytest.raises(ValueError, match="pass paths or the name of a document source block"):
        resolve(**PLAIN)
    with pytest.raises(ValueError, match="no-such-block"):
        resolve(**{**PLAIN, "paths": ["/x"], "target": "no-such-block"})
