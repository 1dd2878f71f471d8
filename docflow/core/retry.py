"""Retry policies per error class.

Prefect retries a whole task run on any exception; docflow needs a policy per error class and
per document inside a batch, so the policy runs in-task (`call_with_policy`); the same policy
sets how often the flow resubmits a batch that failed as a whole (the two retry layers are
described in docflow.core.errors)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from docflow.core.models import ErrorClass
from docflow.core.errors import ERROR_TABLE, DocflowError, classify

T = TypeVar("T")


class Backoff(StrEnum):
    NONE = "none"
    FIXED = "fixed"
    LINEAR = "linear"
    EXPONENTIAL = "exponential"


class RetryPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    retries: int = Field(0, ge=0, le=20, description="Extra attempts after the first.")
    backoff: Backoff = Backoff.NONE
    delay_s: float = Field(0.0, ge=0, le=600, description="Base delay between attempts.")
    max_delay_s: float = Field(60.0, ge=0, le=3600)
    jitter: float = Field(0.0, ge=0, le=1, description="Random share added to each delay.")
    stop_run: bool = Field(False, description="A failure of this class stops the whole run.")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempt counts from 1)."""
        if self.backoff is Backoff.NONE:
            return 0.0
        if self.backoff is Backoff.FIXED:
            base = self.delay_s
        elif self.backoff is Backoff.LINEAR:
            base = self.delay_s * attempt
        else:
            base = self.delay_s * (2 ** (attempt - 1))
        base = min(base, self.max_delay_s)
        return base * (1 + self.jitter * (rng or random).random())


class RetryPolicies(BaseModel):
    """The seeds' table, made configurable. Defaults are short enough that a batch with a flaky
    document does not stall for minutes, long enough to ride out a commit conflict."""

    model_config = ConfigDict(frozen=True)

    transient: RetryPolicy = RetryPolicy(
        retries=3, backoff=Backoff.EXPONENTIAL, delay_s=0.5, max_delay_s=30, jitter=0.25
    )
    missing: RetryPolicy = RetryPolicy(retries=0)
    resource: RetryPolicy = RetryPolicy(retries=5, backoff=Backoff.LINEAR, delay_s=2.0)
    parse: RetryPolicy = RetryPolicy(retries=1, backoff=Backoff.FIXED, delay_s=0.2)
    system: RetryPolicy = RetryPolicy(retries=0, stop_run=ERROR_TABLE[ErrorClass.SYSTEM].stops_run)

    def for_class(self, error_class: ErrorClass) -> RetryPolicy:
        return getattr(self, error_class.value)


@dataclass(frozen=True)
class Attempted(Generic[T]):
    value: T
    attempts: int


class PolicyExhausted(Exception):
    """Carries the classified error and how many attempts were made."""

    def __init__(self, error: DocflowError, attempts: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.attempts = attempts


def call_with_policy(
    fn: Callable[[], T],
    *,
    stage: str,
    policies: RetryPolicies,
    sleep: Callable[[float], None] = time.sleep,
) -> Attempted[T]:
    """Run `fn`, retrying per the policy of whatever class its exception falls in."""
    attempt = 1
    while True:
        try:
            return Attempted(fn(), attempt)
        except Exception as exc:  # noqa: BLE001 - every exception is classified below
            error = classify(exc, stage)
            policy = policies.for_class(error.error_class)
            if policy.stop_run or ERROR_TABLE[error.error_class].stops_run or attempt > policy.retries:
                raise PolicyExhausted(error, attempt) from exc
            sleep(policy.delay(attempt))
            attempt += 1
