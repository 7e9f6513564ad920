"""The Trainer's live progress: "step k/N, ε x.xx spent" on privrec.progress, so `privrec run`
shows it next to the Trainer's spinner (privrec/app/console.py's ComponentProgress).

ε spent after k steps is `DPSettings.epsilon_spent(k)`: the accountant of the run's final ε,
for k steps, so at k = N it is the ε the run reports. An RDP accounting takes milliseconds, so
it is done every ~10 % of the steps (and at the last), not every step, and not at all when
nobody listens.
"""
from typing import Callable, Optional

import tensorflow as tf

from privrec import progress

# The Trainer's pipeline node id (components/span_trainer/component.py; also the default id of
# TFX's Trainer): the line ComponentProgress shows the text on.
COMPONENT = "Trainer"


def text(step: int, steps: int, epsilon: Optional[float] = None) -> str:
    spent = "" if epsilon is None else f", ε {epsilon:.2f} spent"
    return f"step {step}/{steps}{spent}"


class StepProgress(tf.keras.callbacks.Callback):
    """Reports `text(k, steps, epsilon_after(k))` after every `every`-th step (default ~10 % of
    `steps`) and after the last; "step 0/N" when training begins."""

    def __init__(self, steps: int, epsilon_after: Callable[[int], float],
                 component: str = COMPONENT, every: Optional[int] = None):
        super().__init__()
        self._supports_tf_logs = True  # logs unused: no per-step conversion to numpy
        self.steps = steps
        self.epsilon_after = epsilon_after
        self.component = component
        self.every = every or max(1, steps // 10)
        self._done_before_epoch = 0
        self._step = 0

    def on_train_begin(self, logs=None):
        self._done_before_epoch = self._step = 0
        if progress.listening():
            progress.report(self.component, text(0, self.steps))

    def on_epoch_end(self, epoch, logs=None):
        self._done_before_epoch = self._step

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the last step of the call (several with steps_per_execution).
        step = self._done_before_epoch + batch + 1
        crossed = step // self.every > self._step // self.every
        self._step = step
        if (crossed or step == self.steps) and progress.listening():
            progress.report(self.component,
                            text(step, self.steps, self.epsilon_after(step)))
