"""Server-side batching, as TF Serving's `--enable_batching`: concurrent Predict requests for the
same version and signature are concatenated along the batch dimension, run as one call and split
back, so eight waiting users cost one forward pass instead of eight.

Parameters come from TF Serving's batching parameters file (text format, the fields below). With
`batch_timeout_micros: 0` (the default, as in TF Serving) a batch thread never waits for more
requests: it takes what queued up while the previous batch ran, so a lone client pays nothing.
A request whose deadline passed while it queued is answered DEADLINE_EXCEEDED without running;
a full queue is answered UNAVAILABLE (TF Serving's "batch scheduling queue is full").
"""
import collections
import dataclasses
import re
import threading
import time
from typing import Callable, Dict, List, Optional

import numpy as np
import tensorflow as tf


class DeadlineExceeded(Exception):
    """The request's deadline passed before it ran."""


class Overloaded(Exception):
    """More requests are queued than the batching parameters allow."""


@dataclasses.dataclass(frozen=True)
class BatchingParameters:
    max_batch_size: int = 32          # rows per batch
    batch_timeout_micros: int = 0     # how long a batch waits to fill up (0: never)
    num_batch_threads: int = 2        # batches run in parallel
    max_enqueued_batches: int = 100   # queue limit, in batches of max_batch_size rows

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            minimum = 0 if field.name == "batch_timeout_micros" else 1
            if not isinstance(value, int) or value < minimum:
                raise ValueError(f"batching parameter {field.name} must be an integer >= "
                                 f"{minimum}, got {value!r}")


_FIELD = re.compile(r"(\w+)\s*(?::\s*)?\{\s*value\s*:\s*(-?\d+)\s*\}")
_IGNORED = {"pad_variable_length_inputs", "allowed_batch_sizes"}  # accepted, not implemented


def read_batching_parameters(path: str) -> BatchingParameters:
    """TF Serving's --batching_parameters_file, e.g. `max_batch_size { value: 32 }` per line."""
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"#.*", "", f.read())
    values = {}
    for match in _FIELD.finditer(text):
        name = match.group(1)
        if name not in {f.name for f in dataclasses.fields(BatchingParameters)} | _IGNORED:
            raise ValueError(f"{path}: unknown batching parameter '{name}'; known: "
                             + ", ".join(f.name for f in dataclasses.fields(BatchingParameters)))
        values[name] = int(match.group(2))
    leftover = _FIELD.sub("", text).strip()
    if leftover:
        raise ValueError(f"{path}: cannot read '{leftover.splitlines()[0]}'; write each "
                         "parameter as `name { value: N }`")
    return BatchingParameters(**{k: v for k, v in values.items() if k not in _IGNORED})


@dataclasses.dataclass
class _Task:
    key: tuple
    run: Callable[[Dict[str, tf.Tensor]], Dict[str, tf.Tensor]]
    inputs: Dict[str, tf.Tensor]
    rows: int
    deadline: Optional[float]           # time.monotonic() seconds
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    outputs: Optional[Dict[str, np.ndarray]] = None
    error: Optional[BaseException] = None


class Batcher:
    def __init__(self, parameters: BatchingParameters):
        self.parameters = parameters
        self._queue: collections.deque = collections.deque()
        self._queued_rows = 0
        self._ready = threading.Condition()
        self._stopped = False
        self.batch_sizes = collections.Counter()  # rows per executed batch -> how many batches
        self.expired = 0                          # requests dropped at their deadline
        self._threads = [threading.Thread(target=self._work, daemon=True, name=f"batch-{i}")
                         for i in range(parameters.num_batch_threads)]
        for thread in self._threads:
            thread.start()

    def run(self, key: tuple, run: Callable, inputs: Dict[str, tf.Tensor], rows: int,
            deadline: Optional[float] = None) -> Dict[str, np.ndarray]:
        """`run(inputs)` for this request, batched with others of the same `key` (version and
        signature); every input's first dimension is the request's `rows`."""
        task = _Task(key, run, inputs, rows, deadline)
        limit = self.parameters.max_enqueued_batches * self.parameters.max_batch_size
        with self._ready:
            if self._stopped:
                raise Overloaded("the server is shutting down")
            if self._queued_rows + rows > limit:
                raise Overloaded(f"the batch queue is full ({self._queued_rows} rows waiting, "
                                 f"limit {limit}); retry later")
            self._queue.append(task)
            self._queued_rows += rows
            self._ready.notify_all()
        task.done.wait()
        if task.error is not None:
            raise task.error
        return task.outputs

    @property
    def queued_rows(self) -> int:
        with self._ready:
            return self._queued_rows

    def stop(self) -> None:
        with self._ready:
            self._stopped = True
            self._ready.notify_all()

    def _take_batch(self) -> List[_Task]:
        """The oldest task and the queued tasks of its key that fit (called holding the lock)."""
        first = self._queue.popleft()
        batch, rows = [first], first.rows
        give_up = time.monotonic() + self.parameters.batch_timeout_micros / 1e6
        while rows < self.parameters.max_batch_size:
            for task in list(self._queue):
                if task.key == first.key and rows + task.rows <= self.parameters.max_batch_size:
                    self._queue.remove(task)
                    batch.append(task)
                    rows += task.rows
            remaining = give_up - time.monotonic()
            if remaining <= 0 or rows >= self.parameters.max_batch_size or self._stopped:
                break
            self._ready.wait(remaining)
        self._queued_rows -= rows
        return batch

    def _work(self) -> None:
        while True:
            with self._ready:
                self._ready.wait_for(lambda: self._queue or self._stopped)
                if self._stopped:
                    for task in self._queue:
                        task.error = Overloaded("the server is shutting down")
                        task.done.set()
                    self._queue.clear()
                    return
                batch = self._take_batch()
            self._execute(batch)

    def _execute(self, batch: List[_Task]) -> None:
        now = time.monotonic()
        live = []
        for task in batch:
            if task.deadline is not None and task.deadline <= now:
                self.expired += 1
                task.error = DeadlineExceeded("the deadline passed while the request waited "
                                              "for a batch; it was not run")
                task.done.set()
            else:
                live.append(task)
        if not live:
            return
        self.batch_sizes[sum(t.rows for t in live)] += 1
        if len(live) > 1:
            try:
                merged = {name: tf.concat([t.inputs[name] for t in live], axis=0)
                          for name in live[0].inputs}
                outputs = {k: v.numpy() for k, v in live[0].run(merged).items()}
                total = sum(t.rows for t in live)
                if all(v.shape[:1] == (total,) for v in outputs.values()):
                    start = 0
                    for task in live:
                        task.outputs = {k: v[start:start + task.rows] for k, v in outputs.items()}
                        start += task.rows
                        task.done.set()
                    return
            except Exception:  # noqa: BLE001  one bad request: run each alone, errors are theirs
                pass
        for task in live:  # one task, or a batch that could not run or split as one
            try:
                task.outputs = {k: v.numpy() for k, v in task.run(task.inputs).items()}
            except Exception as error:  # noqa: BLE001  handed to the request's own thread
                task.error = error
            task.done.set()
