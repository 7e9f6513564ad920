"""Noise calibration to a target ε, with the accountant that reports ε (trainer/privacy.py)."""
import pytest

from trainer import privacy

RUN = dict(num_users=20_000, users_per_step=256, steps=400)
DATA = dict(max_examples_per_user=8, num_examples=150_000)


@pytest.mark.parametrize("target", [0.5, 1.0, 3.0, 8.0])
def test_calibrated_noise_reaches_the_target_epsilon_from_below(target):
    sigma = privacy.noise_for_target_epsilon(target, **RUN)
    report = privacy.account(noise_multiplier=sigma, l2_norm_clip=1.0, target_epsilon=target,
                             **RUN, **DATA)
    assert target * 0.97 <= report.epsilon <= target
    assert report.target_epsilon == target and report.delta == 1 / RUN["num_users"]
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
