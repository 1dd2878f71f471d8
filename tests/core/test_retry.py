import errno

import pytest

from docflow.core.models import ErrorClass
from docflow.core.errors import MissingError
from docflow.core.retry import Backoff, PolicyExhausted, RetryPolicies, RetryPolicy, call_with_policy


class Flaky:
    """Fails with `exc` for the first `failures` calls, then returns 'ok'."""

    def __init__(self, exc: BaseException, failures: int) -> None:
        self.exc, self.failures, self.calls = exc, failures, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc
        return "ok"


def run(fn, stage="parse", policies=None):
    sleeps: list[float] = []
    try:
        result = call_with_policy(fn, stage=stage, policies=policies or RetryPolicies(), sleep=sleeps.append)
    except PolicyExhausted as exhausted:
        return exhausted, sleeps
    return result, sleeps


def test_transient_retries_three_times_with_growing_jittered_backoff():
    fn = Flaky(TimeoutError("timed out"), failures=10)
    exhausted, sleeps = run(fn)
    assert isinstance(exhausted, PolicyExhausted)
    assert exhausted.error.error_class is ErrorClass.TRANSIENT
    assert fn.calls == exhausted.attempts == 4
    assert len(sleeps) == 3
    for attempt, wait in enumerate(sleeps, start=1):
        base = 0.5 * 2 ** (attempt - 1)
        assert base <= wait <= base * 1.25


def test_transient_recovers_when_the_source_comes_back():
    fn = Flaky(ConnectionResetError("reset"), failures=2)
    result, sleeps = run(fn)
    assert result.value == "ok" and result.attempts == 3 and len(sleeps) == 2


def test_missing_is_not_retried():
    fn = Flaky(FileNotFoundError(errno.ENOENT, "gone"), failures=1)
    exhausted, sleeps = run(fn)
    assert exhausted.error.error_class is ErrorClass.MISSING
    assert fn.calls == 1 and sleeps == []


def test_parse_is_retried_once_after_a_fixed_delay():
    fn = Flaky(ValueError("bad xref"), failures=5)
    exhausted, sleeps = run(fn)
    assert exhausted.error.error_class is ErrorClass.PARSE
    assert fn.calls == 2 and sleeps == [0.2]


def test_resource_waits_linearly_five_times():
    fn = Flaky(MemoryError(), failures=99)
    exhausted, sleeps = run(fn, stage="embed")
    assert exhausted.error.error_class is ErrorClass.RESOURCE
    assert fn.calls == 6
    assert sleeps == [2.0, 4.0, 6.0, 8.0, 10.0]


def test_system_stops_at_once():
    fn = Flaky(OSError(errno.ENOSPC, "No space left on device"), failures=1)
    exhausted, sleeps = run(fn, stage="write")
    assert exhausted.error.error_class is ErrorClass.SYSTEM
    assert fn.calls == 1 and sleeps == []


def test_policies_are_configurable_per_class():
    policies = RetryPolicies.model_validate({"missing": {"retries": 2, "backoff": "fixed", "delay_s": 1}})
    fn = Flaky(MissingError("vanished"), failures=2)
    result, sleeps = run(fn, policies=policies)
    assert result.value == "ok" and sleeps == [1.0, 1.0]


def test_delay_is_capped():
    policy = RetryPolicy(retries=10, backoff=Backoff.EXPONENTIAL, delay_s=1, max_delay_s=5)
    assert policy.delay(10) == 5


def test_invalid_policy_is_rejected():
    with pytest.raises(ValueError):
        RetryPolicies.model_validate({"transient": {"retries": -1}})
