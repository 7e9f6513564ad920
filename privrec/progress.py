"""Progress of a running component, from inside it to whoever shows it.

A component's code (e.g. the Trainer's step callback, trainer/step_progress.py) calls
`report(component, text)` with its latest progress ("step 40/400, ε 0.52 spent"); a display
(privrec/app/console.py's ComponentProgress) listens with `listening_to(listener)`. Nobody
listening: `report` does nothing, and `listening()` lets a reporter skip computing its text.
The pipeline runs in-process (LocalDagRunner), so this channel is process-wide; listeners are
called on the reporter's thread and must be quick. A listener's error never stops the
component: it is logged and the listener dropped.
"""
import contextlib
import logging
import threading
from typing import Callable, Iterator, List

Listener = Callable[[str, str], None]  # (component, text)

_lock = threading.Lock()
_listeners: List[Listener] = []


def listening() -> bool:
    """Whether anyone listens (so whether a report is worth computing)."""
    return bool(_listeners)


def report(component: str, text: str) -> None:
    """`text` as the latest progress of `component` (its pipeline node id, e.g. "Trainer")."""
    with _lock:
        listeners = tuple(_listeners)
    for listener in listeners:
        try:
            listener(component, text)
        except Exception:  # a display's bug must not fail the run
            logging.getLogger(__name__).exception("progress listener %r failed; dropped",
                                                  listener)
            unsubscribe(listener)


def subscribe(listener: Listener) -> None:
    with _lock:
        _listeners.append(listener)


def unsubscribe(listener: Listener) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


@contextlib.contextmanager
def listening_to(listener: Listener) -> Iterator[Listener]:
    """`listener` subscribed for the block."""
    subscribe(listener)
    try:
        yield listener
    finally:
        unsubscribe(listener)
