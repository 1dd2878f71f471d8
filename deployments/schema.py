"""The deployments' parameter schemas, made strict after `prefect deploy`.

Prefect builds a deployment's parameter schema from the flow's signature, and its schema model
keeps only properties, required and definitions: an unknown parameter (`pathz`) passes the
server's check and the run dies on the worker. The server itself validates with the full JSON
Schema (draft 2020-12) and stores any schema it is given, so `docflow deploy` updates each
deployment's schema with `additionalProperties: false` and, for a parameter that is needed
unless a block supplies it, an if/else `required`: bad calls get an HTTP 409 naming the field
and no flow run exists. `serve` gets the same schema through the runner deployment (see
`strict_model`)."""

from __future__ import annotations

from collections.abc import Sequence

from deployments.registry import DeploymentSpec


def strict(schema: dict, spec: DeploymentSpec) -> dict:
    """`schema` refusing unknown parameters and, with `spec.required_unless`, requiring its
    parameter when the alternative (a block name) is not given. The condition sits at the top
    level, not in a list: the server drops nested `required` keys (but not those inside lists)
    when it checks a deployment's own defaults, which may leave both out until a run."""
    tightened = {**schema, "additionalProperties": False}
    if spec.required_unless is not None:
        needed, alternative = spec.required_unless
        tightened["if"] = {"properties": {alternative: {"type": "string"}}, "required": [alternative]}
        tightened["then"] = {}
        tightened["else"] = {"properties": {needed: _not_null(schema["properties"][needed])}, "required": [needed]}
    return tightened


def _not_null(prop: dict) -> dict:
    """The property's schema without its `null` alternative (Optional[...] in the signature)."""
    options = [o for o in prop.get("anyOf", []) if o.get("type") != "null"]
    return options[0] if len(options) == 1 else {"not": {"type": "null"}}


def make_strict(specs: Sequence[DeploymentSpec]) -> None:
    """Replace each deployed spec's parameter schema with its strict form."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import DeploymentUpdate

    with get_client(sync_client=True) as client:
        for spec in specs:
            deployment = client.read_deployment_by_name(spec.full_name)
            schema = strict(deployment.parameter_openapi_schema or {"properties": {}}, spec)
            client.update_deployment(deployment.id, DeploymentUpdate(parameter_openapi_schema=schema))


def strict_model(schema, spec: DeploymentSpec):
    """A runner deployment's schema model (`serve`), strict: Prefect's model ignores extra keys,
    a subclass that keeps them carries the strict form to the server unchanged."""
    from prefect.utilities.callables import ParameterSchema
    from pydantic import ConfigDict

    class StrictParameterSchema(ParameterSchema):
        model_config = ConfigDict(extra="allow")

    return StrictParameterSchema(**strict(schema.model_dump(), spec))
