"""The pipeline commands' DP-SGD shape flags (privrec/app/commands/settings.py): users per step,
user-epochs, catalog negatives, items without id embeddings or with them for frequent items
only, projected title vectors, the prior and rare-items-first draws reach the Trainer's config;
a value that cannot be is refused with the flag's name. A committed policy brings its data
set's preset."""
import pytest

from pipeline import configs
from privrec.app import cli


def _config(tmp_path, *flags):
    return cli._config(cli.build_parser().parse_args(
        ["run", "--work-dir", str(tmp_path), "--data-dir", str(tmp_path), *flags]))


def test_the_flags_set_the_trainer_config(tmp_path):
    (tmp_path / "interactions").mkdir()
    (tmp_path / "interactions" / "time_window.json").write_text(
        '{"start": 0, "end": 86400}')
    trainer = _config(tmp_path, "--users-per-step", "1024", "--user-epochs", "40",
                      "--negatives-per-step", "512", "--without-item-ids",
                      "--popularity-prior-noise", "10", "--rare-item-exponent", "0.5").trainer
    assert (trainer.users_per_step, trainer.epochs, trainer.negatives_per_step,
            trainer.item_id_embeddings, trainer.popularity_prior_noise,
            trainer.rare_item_exponent) == (1024, 40, 512, False, 10, 0.5)
    assert configs.trainer_custom_config(_config(
        tmp_path, "--without-item-ids"))["item_id_embeddings"] is False
    default = _config(tmp_path).trainer
    assert default == configs.TrainerConfig() and default.item_id_embeddings


def test_item_ids_for_frequent_items_only_need_the_prior_and_item_ids(tmp_path):
    policy = "components/masking/policies/movielens_1m.yaml"  # its preset has no item ids
    (tmp_path / "interactions").mkdir()
    (tmp_path / "interactions" / "time_window.json").write_text('{"start": 0, "end": 86400}')
    trainer = _config(tmp_path, "--policy", policy, "--item-id-min-count", "20").trainer
    assert (trainer.item_id_embeddings, trainer.item_id_min_count) == (True, 20)
    assert _config(tmp_path).trainer.item_id_min_count is None
    with pytest.raises(SystemExit, match="it needs --popularity-prior-noise"):
        _config(tmp_path, "--item-id-min-count", "20")
    with pytest.raises(SystemExit, match="--without-item-ids gives none"):
        _config(tmp_path, "--popularity-prior-noise", "10", "--item-id-min-count", "20",
                "--without-item-ids")
    with pytest.raises(SystemExit, match="takes a DP count >= 0, got -1"):
        _config(tmp_path, "--popularity-prior-noise", "10", "--item-id-min-count", "-1")


def test_a_negative_rare_item_exponent_or_one_without_a_prior_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="privrec: --rare-item-exponent takes a number >= 0"):
        _config(tmp_path, "--rare-item-exponent", "-1")
    with pytest.raises(SystemExit, match="it needs --popularity-prior-noise"):
        _config(tmp_path, "--rare-item-exponent", "0.5")


def test_title_dims_reach_the_trainer_and_0_gives_the_full_vectors(tmp_path):
    (tmp_path / "interactions").mkdir()
    (tmp_path / "interactions" / "time_window.json").write_text('{"start": 0, "end": 86400}')
    assert _config(tmp_path, "--title-dims", "64").trainer.title_dims == 64
    policy = "components/masking/policies/movielens_1m.yaml"
    preset = configs.MOVIELENS_1M_TRAINER.get("title_dims")
    assert _config(tmp_path, "--policy", policy).trainer.title_dims == preset
    assert _config(tmp_path, "--policy", policy, "--title-dims", "0").trainer.title_dims is None
    with pytest.raises(SystemExit, match="--title-dims takes a number of dimensions in 1..383"):
        _config(tmp_path, "--title-dims", "384")


def test_ema_momentum_reaches_the_trainer_and_0_gives_the_last_steps_weights(tmp_path):
    (tmp_path / "interactions").mkdir()
    (tmp_path / "interactions" / "time_window.json").write_text('{"start": 0, "end": 86400}')
    assert _config(tmp_path).trainer.ema_momentum is None
    assert _config(tmp_path, "--ema-momentum", "0.9").trainer.ema_momentum == 0.9
    policy = "components/masking/policies/movielens_1m.yaml"
    assert _config(tmp_path, "--policy", policy).trainer.ema_momentum == \
        configs.MOVIELENS_1M_TRAINER["ema_momentum"]
    assert _config(tmp_path, "--policy", policy, "--ema-momentum", "0").trainer.ema_momentum \
        is None
    with pytest.raises(SystemExit, match=r"--ema-momentum takes a momentum in \[0, 1\)"):
        _config(tmp_path, "--ema-momentum", "1")


@pytest.mark.parametrize("flag", ["--users-per-step", "--user-epochs", "--negatives-per-step"])
def test_a_value_below_one_is_refused_naming_the_flag(tmp_path, flag):
    with pytest.raises(SystemExit, match=f"privrec: {flag} takes a number above 0, got 0"):
        _config(tmp_path, flag, "0")


def test_the_movielens_1m_policy_brings_its_benchmarked_settings_and_flags_override_them(
        tmp_path):
    (tmp_path / "interactions").mkdir()
    (tmp_path / "interactions" / "time_window.json").write_text(
        '{"start": 0, "end": 86400}')
    policy = "components/masking/policies/movielens_1m.yaml"  # as the README writes it
    config = _config(tmp_path, "--policy", policy)
    assert {field: getattr(config.trainer, field) for field in configs.MOVIELENS_1M_TRAINER} \
        == configs.MOVIELENS_1M_TRAINER
    assert config.recall_floor == configs.MOVIELENS_1M_RECALL_FLOOR
    chosen = _config(tmp_path, "--policy", policy, "--users-per-step", "512",
                     "--recall-floor", "0.03")
    assert (chosen.trainer.users_per_step, chosen.trainer.epochs, chosen.recall_floor) == (
        512, configs.MOVIELENS_1M_TRAINER["epochs"], 0.03)
    # The preset's prior and its rare-first draws come off together, not one without the other.
    without_prior = _config(tmp_path, "--policy", policy, "--popularity-prior-noise", "0",
                            "--rare-item-exponent", "0").trainer
    assert (without_prior.popularity_prior_noise, without_prior.rare_item_exponent) == (None, 0)
    with pytest.raises(SystemExit, match="it needs --popularity-prior-noise"):
        _config(tmp_path, "--policy", policy, "--popularity-prior-noise", "0")


def test_the_movielens_100k_policy_allows_gender_its_local_dp_noise_in_the_skew_check(tmp_path):
    (tmp_path / "interactions").mkdir()
    (tmp_path / "interactions" / "time_window.json").write_text(
        '{"start": 0, "end": 86400}')
    config = _config(tmp_path, "--policy", "components/masking/policies/movielens.yaml")
    assert config.skew.l_infinity["gender"] == 0.25
    assert config.skew.l_infinity["city"] == configs.SKEW_THRESHOLDS.l_infinity["city"]
    assert config.trainer == configs.TrainerConfig()
    assert _config(tmp_path).skew == configs.SKEW_THRESHOLDS
