"""The registry, the prefect.yaml generated from it and `docflow trigger`'s parameter typing:
no server needed."""

import pytest
import yaml

from deployments import prefect_yaml
from deployments.registry import DEPLOYMENTS, get
from docflow.cli.deploy import ParamError, parse_params
from docflow.core.retry import RetryPolicies


def test_prefect_yaml_is_generated_from_the_registry():
    assert prefect_yaml.is_current(), "prefect.yaml is stale: run `docflow deploy --write-yaml`"


def test_prefect_yaml_lists_every_deployment_and_the_sync_schedule():
    document = yaml.safe_load(prefect_yaml.PREFECT_YAML.read_text())
    entries = {d["name"]: d for d in document["deployments"]}
    assert list(entries) == [spec.name for spec in DEPLOYMENTS]
    assert {name: d["entrypoint"] for name, d in entries.items()} == {s.name: s.entrypoint for s in DEPLOYMENTS}
    assert entries["sync"]["schedules"] == [{"cron": "0 * * * *", "timezone": "UTC", "active": False}]
    assert entries["sync"]["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    assert entries["ingest"]["schedules"] == [] and "concurrency_limit" not in entries["ingest"]
    (pull,) = document["pull"]
    assert pull["prefect.deployments.steps.set_working_directory"]["directory"] == "{{ clone.stdout }}"


def test_entrypoints_load_under_their_registered_flow_names(monkeypatch):
    from prefect.flows import load_flow_from_entrypoint

    monkeypatch.chdir(prefect_yaml.REPO_ROOT)
    for spec in DEPLOYMENTS:
        loaded = load_flow_from_entrypoint(spec.entrypoint)
        assert loaded.name == spec.flow_name
        # A flow loaded from a file path lives in a module named after the file ("sync"), which
        # the workers of an existing Dask cluster cannot import when the run's context reaches
        # them with a batch: every batch would fail to deserialize there.
        assert loaded.fn.__module__.startswith("flows."), loaded.fn.__module__


def test_deploy_refuses_a_stale_prefect_yaml(monkeypatch, tmp_path, capsys):
    from docflow.cli import main as cli

    stale = tmp_path / "prefect.yaml"
    stale.write_text(prefect_yaml.render().replace("0 * * * *", "*/5 * * * *"))
    monkeypatch.setattr(prefect_yaml, "PREFECT_YAML", stale)
    assert cli.main(["deploy"]) == cli.EXIT_USAGE
    assert "--write-yaml" in capsys.readouterr().err


@pytest.fixture(scope="module")
def ingest_schema() -> dict:
    from prefect.utilities.callables import parameter_schema

    from flows.ingest import ingest

    return parameter_schema(ingest).model_dump()


def test_trigger_params_are_typed_by_the_deployment_schema(ingest_schema):
    params = parse_params(
        ["paths=/a", "paths=/b", "batch_size=4", "table=2024", "retry_failed=true", "include=[\"*.md\"]",
         'retry_policies={"parse": {"retries": 0}}', "target=prod-target"],
        ingest_schema,
    )
    assert params == {
        "paths": ["/a", "/b"], "batch_size": 4, "table": "2024", "retry_failed": True, "include": ["*.md"],
        "retry_policies": {"parse": {"retries": 0}}, "target": "prod-target",
    }
    assert RetryPolicies.model_validate(params["retry_policies"]).parse.retries == 0


@pytest.mark.parametrize(
    ("pairs", "message"),
    [(["paths"], "expected KEY=VALUE"), (["pathz=/a"], "unknown parameter 'pathz'"),
     (["table=a", "table=b"], "given twice")],
)
def test_trigger_params_refuse_what_the_schema_cannot_take(ingest_schema, pairs, message):
    with pytest.raises(ParamError, match=message):
        parse_params(pairs, ingest_schema)


def test_the_registry_names_are_unique_and_known():
    assert len({spec.name for spec in DEPLOYMENTS}) == len(DEPLOYMENTS)
    assert get("ingest").full_name == "docflow-ingest/ingest"
    with pytest.raises(KeyError, match="known: ingest, sync, export"):
        get("nope")


def test_the_worker_hint_reads_the_auth_string_from_its_file_and_carries_the_allowed_roots(monkeypatch, tmp_path):
    from docflow.cli.deploy import worker_hint

    monkeypatch.setenv("DOCFLOW_ALLOWED_ROOTS", "/data/docs:/data/db")
    (tmp_path / "api-auth").write_text("user:secret\n")
    lines = worker_hint("http://127.0.0.1:4321/api", "docflow", tmp_path / "api-auth").splitlines()
    assert lines[1].strip().startswith("DOCFLOW_ALLOWED_ROOTS=/data/docs:/data/db ")
    assert lines[1].strip().endswith("docflow worker start --pool docflow")
    assert lines[3].strip().startswith(
        f'PREFECT_API_URL=http://127.0.0.1:4321/api PREFECT_API_AUTH_STRING="$(cat {tmp_path}/api-auth)" '
        "DOCFLOW_ALLOWED_ROOTS=/data/docs:/data/db "
    )
    assert "secret" not in "\n".join(lines)

    monkeypatch.delenv("DOCFLOW_ALLOWED_ROOTS")
    hint = worker_hint("http://127.0.0.1:4321/api")
    assert "AUTH" not in hint and "also need DOCFLOW_ALLOWED_ROOTS" in hint
