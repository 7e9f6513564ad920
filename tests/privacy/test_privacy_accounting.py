"""Noise calibration to a target ε, with the accountant that reports ε (privrec/privacy/)."""
import math

import numpy as np
import pytest

from privrec import privacy

RUN = dict(num_users=20_000, users_per_step=256, steps=400)
DATA = dict(max_examples_per_user=8, num_examples=150_000)


@pytest.mark.parametrize("target", [0.5, 1.0, 3.0, 8.0])
def test_calibrated_noise_reaches_the_target_epsilon_from_below(target):
    sigma = privacy.noise_for_target_epsilon(target, **RUN)
    report = privacy.account(noise_multiplier=sigma, l2_norm_clip=1.0, target_epsilon=target,
                             **RUN, **DATA)
    assert target * 0.97 <= report.epsilon <= target
    assert report.target_epsilon == target and report.delta == privacy.default_delta(
        RUN["num_users"])
    # A little less noise would overspend: sigma is the smallest that fits.
    assert privacy.account(noise_multiplier=sigma * 0.97, l2_norm_clip=1.0, **RUN, **DATA).epsilon \
        > target


def test_smaller_targets_need_more_noise_and_more_steps_need_more_noise():
    sigmas = [privacy.noise_for_target_epsilon(t, **RUN) for t in (1.0, 2.0, 4.0)]
    assert sigmas[0] > sigmas[1] > sigmas[2]
    longer = privacy.noise_for_target_epsilon(2.0, **{**RUN, "steps": 4 * RUN["steps"]})
    assert longer > sigmas[1]


@pytest.mark.parametrize("target, message", [(0.0, "must be > 0"),
                                             (1e-6, "raise the target or train fewer steps")])
def test_unreachable_or_invalid_targets_say_what_to_do(target, message):
    with pytest.raises(ValueError, match=message):
        privacy.noise_for_target_epsilon(target, **RUN)


@pytest.mark.parametrize("users, delta", [(80, 1e-6), (20_000, 1e-6), (100_000, 1e-7),
                                          (10_000_000, 1e-9)])
def test_default_delta_is_below_one_over_n_log_n_and_one_in_a_million(users, delta):
    assert privacy.default_delta(users) == pytest.approx(delta)
    assert privacy.default_delta(users) <= min(1 / (users * math.log(users)), 1e-6)


def test_a_delta_of_one_over_n_or_more_is_refused():
    with pytest.raises(ValueError, match="not below 1/N"):
        privacy.account(noise_multiplier=1.0, l2_norm_clip=1.0, delta=1 / RUN["num_users"],
                        **RUN, **DATA)
    assert privacy.checked_delta(1e-5, RUN["num_users"]) == 1e-5


def test_the_user_count_is_dp_and_its_cost_composes():
    counts = [privacy.dp_user_count(1_000, 10.0) for _ in range(200)]
    assert len(set(counts)) > 20 and abs(np.mean(counts) - 1_000) < 3
    assert np.std(counts) == pytest.approx(10.0, rel=0.2)
    plain = privacy.account(noise_multiplier=1.0, l2_norm_clip=1.0, **RUN, **DATA)
    counted = privacy.account(noise_multiplier=1.0, l2_norm_clip=1.0, **RUN, **DATA,
                              user_count_noise_multiplier=10.0)
    assert plain.epsilon < counted.epsilon < plain.epsilon + 0.2
    assert counted.runs[-1]["user_count_noise_multiplier"] == 10.0
    assert "num_examples" not in counted.released() and "num_examples" in counted.to_dict()
