"""The flow process's memory helpers around a run's planning: pure Python, no Prefect API."""

import gc
import platform

import pytest

from flows.memory import _malloc_trim, collector_paused


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


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is a glibc function")
def test_glibc_s_malloc_trim_is_found_and_called():
    trim = _malloc_trim()
    assert trim is not None
    assert trim(0) in (0, 1)  # its documented results: nothing released, or some released
