"""privrec/privacy/accounting.py against dp_accounting's own accountants, computed here."""
import math

import dp_accounting
import pytest
from scipy import optimize, stats

from privrec.privacy import accounting

DATA = dict(l2_norm_clip=1.0, max_examples_per_user=4, num_examples=40_000)


def _rdp_epsilon(events, delta):
    accountant = dp_accounting.rdp.RdpAccountant()
    for event in events:
        accountant.compose(event)
    return accountant.get_epsilon(delta)


def _sgd(q, sigma, steps):
    return dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), steps)


def _exact_gaussian_epsilon(sigma, delta):
    """Balle & Wang (2018), the exact ε of one Gaussian mechanism of sensitivity 1."""
    def excess(eps):
        return (stats.norm.cdf(-eps * sigma + 1 / (2 * sigma))
                - math.exp(eps) * stats.norm.cdf(-eps * sigma - 1 / (2 * sigma)) - delta)
    return optimize.brentq(excess, 0.0, 100.0)


def test_epsilon_is_the_rdp_accountants_for_poisson_sampled_steps():
    report = accounting.account(num_users=10_000, users_per_step=100, steps=500,
                                noise_multiplier=1.1, delta=1e-6, **DATA)
    expected = _rdp_epsilon([_sgd(0.01, 1.1, 500)], 1e-6)
    assert report.epsilon == pytest.approx(expected, rel=1e-9)
    assert report.epsilon_this_run == pytest.approx(expected, rel=1e-9)
    assert report.delta == 1e-6 and report.epochs == pytest.approx(5.0)
    # PLD is tighter than RDP for the same mechanism, but not by much.
    pld = dp_accounting.pld.PLDAccountant()
    pld.compose(_sgd(0.01, 1.1, 500))
    assert pld.get_epsilon(1e-6) <= report.epsilon <= 1.5 * pld.get_epsilon(1e-6)


def test_full_batch_steps_are_a_gaussian_mechanism_bounded_by_its_exact_epsilon():
    # q = 1 (users_per_step above the user count is clamped): T steps of noise σ are one
    # Gaussian of noise σ/√T. RDP's ε sits between the exact ε and the classic RDP conversion.
    sigma, steps, delta = 4.0, 4, 1e-6
    report = accounting.account(num_users=1_000, users_per_step=5_000, steps=steps,
                                noise_multiplier=sigma, delta=delta, **DATA)
    effective = sigma / math.sqrt(steps)
    exact = _exact_gaussian_epsilon(effective, delta)
    classic = min(alpha / (2 * effective ** 2) + math.log(1 / delta) / (alpha - 1)
                  for alpha in [1 + x / 100 for x in range(1, 20_000)])
    assert exact < report.epsilon <= classic
    assert report.epochs == pytest.approx(steps)


def test_earlier_runs_and_the_extra_mechanisms_compose():
    base = dict(num_users=10_000, users_per_step=200, steps=300, noise_multiplier=1.0,
                delta=1e-7)
    earlier = accounting.run_record(20_000, 100, 1_000, 2.0)
    report = accounting.account(**base, **DATA, earlier_runs=[earlier],
                                popularity_noise_multiplier=5.0,
                                user_count_noise_multiplier=20.0)
    this_run = [dp_accounting.GaussianDpEvent(20.0), dp_accounting.GaussianDpEvent(5.0),
                _sgd(0.02, 1.0, 300)]
    assert report.epsilon_this_run == pytest.approx(_rdp_epsilon(this_run, 1e-7), rel=1e-9)
    assert report.epsilon == pytest.approx(
        _rdp_epsilon(this_run + [_sgd(100 / 20_000, 2.0, 1_000)], 1e-7), rel=1e-9)
    assert report.epsilon > report.epsilon_this_run
    assert report.runs[0] == earlier and report.runs[-1]["popularity_noise_multiplier"] == 5.0
    assert "popularity prior" in report.statement and "DP count" in report.statement
    plain = accounting.account(**base, **DATA)
    assert plain.epsilon < report.epsilon_this_run


def test_no_noise_is_infinite_epsilon():
    assert accounting.composed_epsilon([accounting.run_record(100, 10, 5, 0.0)], 1e-6) \
        == math.inf


@pytest.mark.parametrize("users", [3, 1_000, 123_456, 10**8])
def test_default_delta_is_a_power_of_ten_below_both_bounds(users):
    delta = accounting.default_delta(users)
    bound = min(1 / (users * math.log(users)), 1e-6)
    assert delta <= bound < 10 * delta
    assert math.log10(delta) == pytest.approx(round(math.log10(delta)))


def test_checked_delta_refuses_one_over_n_and_accepts_just_below():
    assert accounting.checked_delta(None, 1_000) == accounting.default_delta(1_000)
    assert accounting.checked_delta(0.999e-3, 1_000) == 0.999e-3
    for refused in (1e-3, 2e-3, 0.0, -1e-9):
        with pytest.raises(ValueError, match="not below 1/N"):
            accounting.checked_delta(refused, 1_000)
