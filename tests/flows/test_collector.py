"""The collector pause around a run's planning: pure Python, no Prefect API."""

import gc

import pytest

from flows.collector import collector_paused


@pytest.fixture
def collector_enabled():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_the_collector_is_paused_inside_and_runs_again_after(collector_enabled):
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_while_planning_still_restores_the_collector(collector_enabled):
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("discovery failed")
    assert gc.isenabled()


def test_a_collector_the_caller_disabled_stays_disabled(collector_enabled):
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()
