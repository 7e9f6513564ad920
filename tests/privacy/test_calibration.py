"""privrec/privacy/calibration.py: the noise it picks, checked with dp_accounting directly."""
import dp_accounting
import pytest

from privrec.privacy import accounting, calibration

RUN = dict(num_users=10_000, users_per_step=100, steps=400)


def _epsilon(sigma, delta, q=0.01, steps=400, extra=()):
    accountant = dp_accounting.rdp.RdpAccountant()
    for sd in extra:
        accountant.compose(dp_accounting.GaussianDpEvent(sd))
    accountant.compose(dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), steps))
    return accountant.get_epsilon(delta)


@pytest.mark.parametrize("target", [0.7, 2.0, 6.0])
def test_calibrated_noise_hits_the_target_and_is_the_smallest_that_does(target):
    delta = accounting.default_delta(RUN["num_users"])
    sigma = calibration.noise_for_target_epsilon(target, **RUN)
    assert 0.97 * target <= _epsilon(sigma, delta) <= target
    assert _epsilon(sigma - 0.01, delta) > target
    assert _epsilon(sigma * 1.5, delta) < _epsilon(sigma, delta)


def test_more_noise_smaller_epsilon_and_smaller_target_more_noise():
    sigmas = [calibration.noise_for_target_epsilon(t, **RUN) for t in (4.0, 2.0, 1.0)]
    assert sigmas[0] < sigmas[1] < sigmas[2]
    epsilons = [_epsilon(s, 1e-6) for s in sigmas]
    assert epsilons[0] > epsilons[1] > epsilons[2]


def test_the_extra_mechanisms_are_paid_for():
    plain = calibration.noise_for_target_epsilon(1.0, **RUN, delta=1e-6)
    with_prior = calibration.noise_for_target_epsilon(1.0, **RUN, delta=1e-6,
                                                      popularity_noise=10.0,
                                                      user_count_noise=20.0)
    assert with_prior > plain
    assert 0.97 <= _epsilon(with_prior, 1e-6, extra=(10.0, 20.0)) <= 1.0


@pytest.mark.parametrize("target, message", [(0.0, "must be > 0"), (-1.0, "must be > 0"),
                                             (1e-4, "raise the target")])
def test_bad_or_unreachable_targets(target, message):
    with pytest.raises(ValueError, match=message):
        calibration.noise_for_target_epsilon(target, **RUN)


def test_a_prior_that_alone_spends_the_budget_is_named():
    # A Gaussian of σ 0.5 alone costs far more than ε = 1: no DP-SGD noise can help.
    with pytest.raises(ValueError, match="popularity_prior_noise"):
        calibration.noise_for_target_epsilon(1.0, **RUN, delta=1e-6, popularity_noise=0.5)
