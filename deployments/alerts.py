"""Failure alerts with Prefect's own mechanism: one automation on the server.

It fires when a flow run of a docflow deployment ends Failed, Crashed or DeletionGuarded (a
sync whose deletions the mass-deletion guard refused) and sends a notification through a block
the user created and names: a custom webhook, Slack, e-mail, ... any Prefect notification
block, so alerting to a new system is a new block, not new docflow code. The automation lives
on the server, so it alerts whoever started the run (UI, schedule, API, CLI)."""

from __future__ import annotations

from collections.abc import Sequence

from deployments.registry import DeploymentSpec

AUTOMATION_NAME = "docflow: run failed, crashed or deletions refused"
ALERT_STATES = ("Failed", "Crashed", "DeletionGuarded")
SUBJECT = "docflow: {{ flow_run.name }} ended {{ flow_run.state.name }}"
BODY = (
    "Flow run {{ flow.name }}/{{ flow_run.name }} ended {{ flow_run.state.name }}: "
    "{{ flow_run.state.message }}\n{{ flow_run|ui_url }}"
)


class AlertBlockError(ValueError):
    """The named block does not exist or cannot send notifications."""


def notification_block_id(name: str):
    """`name` is `block-type-slug/block-name`, as `prefect block ls` shows it."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    slug, sep, block_name = name.partition("/")
    if not sep or not slug or not block_name:
        raise AlertBlockError(f"--alert-block {name!r}: expected BLOCK-TYPE/NAME, e.g. custom-webhook/ops")
    with get_client(sync_client=True) as client:
        try:
            document = client.read_block_document_by_name(block_name, slug)
        except ObjectNotFound:
            raise AlertBlockError(f"no {slug} block named {block_name!r}; create it first (UI: Blocks → +)") from None
        capabilities = document.block_schema.capabilities if document.block_schema else []
        if "notify" not in capabilities:
            raise AlertBlockError(f"block {name!r} cannot send notifications (a {slug} block)")
        return document.id


def ensure_alerts(block: str, specs: Sequence[DeploymentSpec]):
    """Create or replace the automation for those of `specs` that are deployed; returns its
    id."""
    from prefect.automations import Automation, EventTrigger, SendNotification
    from prefect.client.orchestration import get_client
    from prefect.events.schemas.automations import Posture

    from prefect.exceptions import ObjectNotFound

    block_id = notification_block_id(block)
    deployments = []
    with get_client(sync_client=True) as client:
        for spec in specs:
            try:
                deployments.append(client.read_deployment_by_name(spec.full_name).id)
            except ObjectNotFound:
                continue  # not deployed (`docflow deploy --only`): nothing to watch
    trigger = EventTrigger(
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={
            "prefect.resource.role": "deployment",
            "prefect.resource.id": [f"prefect.deployment.{d}" for d in deployments],
        },
        expect={f"prefect.flow-run.{state}" for state in ALERT_STATES},
        for_each={"prefect.resource.id"},
        posture=Posture.Reactive,
        threshold=1,
    )
    automation = Automation(
        name=AUTOMATION_NAME,
        description=f"docflow deploy --alert-block {block}",
        enabled=True,
        trigger=trigger,
        actions=[SendNotification(block_document_id=block_id, subject=SUBJECT, body=BODY)],
    )
    try:
        existing = Automation.read(name=AUTOMATION_NAME)
    except ValueError:
        return automation.create().id
    automation.id = existing.id
    automation.update()
    return existing.id
