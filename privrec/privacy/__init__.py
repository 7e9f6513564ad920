"""The privacy library: user-level DP mechanisms, their accounting and the privacy ledger.

It knows nothing of the model it protects (it sits below trainer/):
- `user_sampling`: Poisson sampling of users, at most k examples each;
- `mechanism`: one DP-SGD step's clipping and noise (`UserLevelDP`);
- `ghost_norms`: per-user gradient norms from layer inputs and cotangents (ghost clipping);
- `noise`, `releases`: the Gaussian noise from OS entropy, and the releases outside training
  (the popularity prior, the count of users);
- `accounting`, `calibration`, `report`: ε of the runs (RDP), the noise for a target ε, and
  what a run reports;
- `span_ledger`: the privacy budget of a pipeline root over its runs.

The names below are the library's public interface (`from privrec import privacy`).
"""
from privrec.privacy.accounting import (account, checked_delta, composed_epsilon, default_delta,
                                        dp_sgd_event, run_record)
from privrec.privacy.calibration import noise_for_target_epsilon
from privrec.privacy.mechanism import UserLevelDP, make_optimizer, noise_norm_over_clip
from privrec.privacy.noise import EntropyGaussianSumQuery
from privrec.privacy.releases import dp_user_count, popularity_prior
from privrec.privacy.report import EPSILON_COVERS, PrivacyReport
