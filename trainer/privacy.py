"""DP-SGD with TF-Privacy: the optimizer and the privacy accounting of a training run.

Every number in the report is computed from the run's own parameters (examples, batch size,
steps, noise multiplier, δ) with TF-Privacy's accountant; none is typed in.
"""
import dataclasses
import math
from typing import Dict, Optional

import dp_accounting
from tensorflow_privacy.privacy.analysis import compute_dp_sgd_privacy_lib
from tensorflow_privacy.privacy.optimizers import dp_optimizer_keras_vectorized


def make_optimizer(config: Dict):
    """Vectorized DP Adam; one microbatch per example, so each example's gradient is clipped."""
    return dp_optimizer_keras_vectorized.VectorizedDPKerasAdamOptimizer(
        l2_norm_clip=config["l2_norm_clip"], noise_multiplier=config["noise_multiplier"],
        num_microbatches=None, learning_rate=config["learning_rate"],
        # BERT's pooler is unused (mean pooling): its gradient is zero, not None.
        unconnected_gradients_to_zero=True)


@dataclasses.dataclass(frozen=True)
class PrivacyReport:
    epsilon: float
    delta: float
    noise_multiplier: float
    l2_norm_clip: float
    num_examples: int
    batch_size: int
    steps: int
    epochs: float
    accountant: str
    sampling_assumption: str
    privacy_unit: str
    statement: str

    def to_dict(self) -> Dict:
        return dataclasses.asdict(self)


def account(num_examples: int, batch_size: int, steps: int, noise_multiplier: float,
            l2_norm_clip: float, delta: Optional[float] = None) -> PrivacyReport:
    """ε of `steps` DP-SGD steps at sampling rate batch_size/num_examples (RDP accountant)."""
    delta = delta if delta is not None else 1.0 / num_examples
    q = min(1.0, batch_size / num_examples)
    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(noise_multiplier)),
        steps)
    accountant = dp_accounting.rdp.RdpAccountant()
    epsilon = accountant.compose(event).get_epsilon(delta) if noise_multiplier > 0 else math.inf
    epochs = steps * batch_size / num_examples
    statement = compute_dp_sgd_privacy_lib.compute_dp_sgd_privacy_statement(
        number_of_examples=num_examples, batch_size=batch_size, num_epochs=epochs,
        noise_multiplier=noise_multiplier, delta=delta, used_microbatching=False)
    return PrivacyReport(
        epsilon=float(epsilon), delta=float(delta), noise_multiplier=noise_multiplier,
        l2_norm_clip=l2_norm_clip, num_examples=num_examples, batch_size=batch_size, steps=steps,
        epochs=epochs, accountant="RDP (dp_accounting.rdp.RdpAccountant via TF-Privacy)",
        sampling_assumption=(f"Poisson subsampling at q={q:.5f}; training actually shuffles "
                             "into fixed-size batches, see the statement for both"),
        privacy_unit="example (one interaction); user-level accounting is not done yet",
        statement=statement)
