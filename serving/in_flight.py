"""A per-server cap on requests being handled, shared by gRPC and REST.

Past the cap a request is refused at once (RESOURCE_EXHAUSTED / HTTP 429) instead of queueing:
memory and latency stay bounded however many clients arrive. The same count tells a draining
server when its last in-flight request has finished.
"""
import contextlib
import threading
import time

MAX_IN_FLIGHT = 64


class ServerBusy(Exception):
    """The server already handles as many requests as it may."""


class InFlightLimit:
    def __init__(self, limit: int = MAX_IN_FLIGHT):
        if limit < 1:
            raise ValueError(f"the in-flight limit must be >= 1, got {limit}")
        self.limit = limit
        self._count = 0
        self._changed = threading.Condition()

    @property
    def count(self) -> int:
        with self._changed:
            return self._count

    @contextlib.contextmanager
    def slot(self):
        """Holds one of the `limit` slots while the request runs; ServerBusy if none is free."""
        with self._changed:
            if self._count >= self.limit:
                raise ServerBusy(f"this server already handles {self.limit} requests, its "
                                 "limit; retry later")
            self._count += 1
        try:
            yield
        finally:
            with self._changed:
                self._count -= 1
                self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once no request is in flight, False if `timeout` seconds pass first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            return self._changed.wait_for(lambda: self._count == 0,
                                          max(0.0, deadline - time.monotonic()))
