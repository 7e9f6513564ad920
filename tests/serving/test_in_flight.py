"""serving/in_flight.py on its own: the cap refuses at once past its limit, frees a slot when a
request ends (raised or not), and tells a draining server when the last request is done."""
import threading
import time

import pytest

from serving import in_flight


def test_past_the_limit_a_request_is_refused_at_once_and_slots_come_back():
    limit = in_flight.InFlightLimit(2)
    with limit.slot(), limit.slot():
        assert limit.count == 2
        started = time.monotonic()
        with pytest.raises(in_flight.ServerBusy, match="already handles 2 requests"):
            with limit.slot():
                pass
        assert time.monotonic() - started < 0.5  # refused, not queued
    assert limit.count == 0
    with pytest.raises(RuntimeError):
        with limit.slot():
            raise RuntimeError("the handler failed")
    assert limit.count == 0  # a failed request frees its slot too


def test_wait_idle_returns_when_the_last_request_ends_or_at_the_timeout():
    limit = in_flight.InFlightLimit(1)
    assert limit.wait_idle(0)
    release = threading.Event()

    def request():
        with limit.slot():
            release.wait(10)

    worker = threading.Thread(target=request)
    worker.start()
    while limit.count == 0:
        time.sleep(0.01)
    assert not limit.wait_idle(0.2)
    threading.Timer(0.2, release.set).start()
    started = time.monotonic()
    assert limit.wait_idle(10)
    assert time.monotonic() - started < 5
    worker.join(10)


def test_a_limit_below_one_is_refused():
    with pytest.raises(ValueError, match=">= 1, got 0"):
        in_flight.InFlightLimit(0)
