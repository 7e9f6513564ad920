"""DP-SGD with TF-Privacy: the optimizer and the privacy accounting of a training run.

Every number in the report is computed from the run's own parameters (examples, batch size,
steps, noise multiplier, δ) with TF-Privacy's accountant; none is typed in.
"""
import dataclasses
import math
from typing import Dict, Optional, Sequence, Tuple

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
    target_epsilon: Optional[float] = None  # set when the noise multiplier was calibrated to it
    # Warm-started training composes with the runs it continues: `epsilon` covers all of
    # `runs` (oldest first, this one last); `epsilon_this_run` only this run.
    epsilon_this_run: Optional[float] = None
    runs: Tuple[Dict, ...] = ()

    def to_dict(self) -> Dict:
        return dataclasses.asdict(self)


def _dp_sgd_event(q: float, noise_multiplier: float, steps: int) -> dp_accounting.DpEvent:
    return dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(noise_multiplier)),
        steps)


def noise_for_target_epsilon(target_epsilon: float, num_examples: int, batch_size: int,
                             steps: int, delta: Optional[float] = None) -> float:
    """The smallest noise multiplier whose ε (same accountant and assumption as `account`) is
    at most `target_epsilon` (dp_accounting.calibrate_dp_mechanism, bisection)."""
    if not target_epsilon > 0:
        raise ValueError(f"target_epsilon must be > 0, got {target_epsilon}")
    delta = delta if delta is not None else 1.0 / num_examples
    q = min(1.0, batch_size / num_examples)
    try:
        return float(dp_accounting.calibrate_dp_mechanism(
            dp_accounting.rdp.RdpAccountant, lambda sigma: _dp_sgd_event(q, sigma, steps),
            target_epsilon, delta,
            bracket_interval=dp_accounting.ExplicitBracketInterval(1e-2, 1e3), tol=1e-3))
    except (dp_accounting.mechanism_calibration.NoBracketIntervalFoundError,
            ValueError) as error:  # brentq: the interval holds no solution
        raise ValueError(f"no noise multiplier in [0.01, 1000] reaches ε = {target_epsilon} at "
                         f"δ = {delta:.2e} in {steps} steps; raise the target or train fewer "
                         "steps") from error


def _composed_epsilon(runs: Sequence[Dict], delta: float) -> float:
    """ε of the runs one after the other (RDP composition; an example may be in all of them)."""
    if any(run["noise_multiplier"] <= 0 for run in runs):
        return math.inf
    accountant = dp_accounting.rdp.RdpAccountant()
    for run in runs:
        q = min(1.0, run["batch_size"] / run["num_examples"])
        accountant.compose(_dp_sgd_event(q, run["noise_multiplier"], run["steps"]))
    return float(accountant.get_epsilon(delta))


def account(num_examples: int, batch_size: int, steps: int, noise_multiplier: float,
            l2_norm_clip: float, delta: Optional[float] = None,
            target_epsilon: Optional[float] = None,
            earlier_runs: Sequence[Dict] = ()) -> PrivacyReport:
    """ε of `steps` DP-SGD steps at sampling rate batch_size/num_examples (RDP accountant),
    composed with `earlier_runs` (the `runs` of the report of the model this one continues)."""
    delta = delta if delta is not None else 1.0 / num_examples
    q = min(1.0, batch_size / num_examples)
    this_run = {"num_examples": num_examples, "batch_size": batch_size, "steps": steps,
                "noise_multiplier": noise_multiplier}
    runs = tuple(dict(run) for run in earlier_runs) + (this_run,)
    epsilon = _composed_epsilon(runs, delta)
    epsilon_this_run = _composed_epsilon([this_run], delta)
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
        statement=statement, target_epsilon=target_epsilon,
        epsilon_this_run=epsilon_this_run, runs=runs)
