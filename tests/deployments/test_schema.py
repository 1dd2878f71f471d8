"""The strict parameter schemas `docflow deploy` gives the deployments, checked with the
validator the Prefect server itself runs on create_flow_run (no server needed)."""

import pytest
from prefect.utilities.callables import parameter_schema
from prefect.utilities.schema_tools.validation import ValidationError, validate

from deployments.registry import get
from deployments.schema import strict
from flows.ingest import ingest
from flows.sync import sync


@pytest.fixture(scope="module", params=[("ingest", ingest), ("sync", sync)], ids=["ingest", "sync"])
def schema(request) -> dict:
    name, flow = request.param
    return strict(parameter_schema(flow).model_dump(), get(name))


def refusal(parameters: dict, schema: dict) -> str:
    with pytest.raises(ValidationError) as refused:
        validate(parameters, schema, raise_on_error=True)
    return str(refused.value)


def test_an_unknown_parameter_is_refused(schema):
    message = refusal({"paths": ["/docs"], "pathz": ["/docs"]}, schema)
    assert "Additional properties are not allowed ('pathz' was unexpected)" in message
    assert "'paths' is a required property" in refusal({"pathz": ["/docs"]}, schema)


@pytest.mark.parametrize(("parameters", "reason"), [
    ({}, "'paths' is a required property"),
    ({"batch_size": 4}, "'paths' is a required property"),
    ({"source": None}, "'paths' is a required property"),
    ({"paths": None}, "Validation failed for field 'paths'. Failure reason: None is not of type 'array'"),
])
def test_paths_are_required_without_a_source_block(schema, parameters, reason):
    assert reason in refusal(parameters, schema)


@pytest.mark.parametrize("parameters", [{"paths": ["/docs"]}, {"source": "handbook-docs"},
                                        {"source": "handbook-docs", "paths": ["/docs"], "table": "t"}])
def test_paths_or_a_source_block_are_accepted(schema, parameters):
    assert validate(parameters, schema, raise_on_error=True) == []


def test_field_constraints_still_apply(schema):
    assert "less than the minimum of 1" in refusal({"paths": ["/docs"], "batch_size": 0}, schema)


def test_export_needs_no_condition():
    from flows.export import export

    schema = strict(parameter_schema(export).model_dump(), get("export"))
    assert "if" not in schema and schema["additionalProperties"] is False
    assert "'out' is a required property" in refusal({}, schema)


def test_a_deployment_without_default_parameters_still_validates(schema):
    """What the server checks when docflow deploy updates the schema: the deployment's own
    (empty) defaults with nested `required` ignored."""
    assert validate({}, schema, raise_on_error=True, ignore_required=True) == []
