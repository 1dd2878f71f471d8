"""The docflow command's exit codes, and which one a run's outcome gets.

0 when a run finished (per-document failures are recorded, not fatal), 1 when it stopped on a
system error, 2 for bad arguments, 3 when a sync's deletions were refused by the mass-deletion
guard, 130 when interrupted."""

from __future__ import annotations

from docflow.core.models import RunOutcome

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_GUARDED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

BY_OUTCOME = {
    RunOutcome.COMPLETED: EXIT_OK,
    RunOutcome.DRY_RUN: EXIT_OK,
    RunOutcome.CANCELLED: EXIT_INTERRUPTED,
    RunOutcome.GUARDED: EXIT_GUARDED,
}


def exit_code(outcome: str) -> int:
    return BY_OUTCOME.get(RunOutcome(outcome), EXIT_FAILED)
