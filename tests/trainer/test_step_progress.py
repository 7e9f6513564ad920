"""trainer/step_progress.py: the Trainer's "step k/N, ε spent" on privrec.progress, through a
real (tiny) Keras fit; ε from the run's own accountant, independently recomputed here."""
import re

import numpy as np
import pytest
import tensorflow as tf

from pipeline import configs
from privrec import privacy, progress
from tests.support import synthetic_two_tower as synthetic
from trainer import step_progress, training

CONFIG = {**vars(configs.TrainerConfig()), "users_per_step": 8, "max_examples_per_user": 4,
          "target_epsilon": None, "noise_multiplier": 1.1, "user_count_noise": 10.0,
          "popularity_prior_noise": 5.0}
EARLIER = [privacy.run_record(60, 8.0, 30, 1.3)]


def _fit(steps, callback):
    model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    data = tf.data.Dataset.from_tensors((np.ones((2, 3), "float32"),
                                         np.ones((2, 1), "float32"))).repeat()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[callback])


def test_the_callback_reports_k_of_n_and_the_epsilon_spent_up_to_the_runs_own():
    sampler = training.user_sampler(synthetic.examples([3] * 60), CONFIG)
    steps = 25
    settings = training.dp_settings(CONFIG, sampler, steps=steps)
    reports = []
    with progress.listening_to(lambda component, text: reports.append((component, text))):
        _fit(steps, step_progress.StepProgress(
            steps, lambda k: settings.epsilon_spent(k, EARLIER)))
    assert {component for component, _ in reports} == {"Trainer"}
    assert reports[0][1] == "step 0/25"
    parsed = [re.fullmatch(r"step (\d+)/25, ε (\d+\.\d\d) spent", text) for _, text in reports[1:]]
    assert all(parsed), reports
    ks = [int(m.group(1)) for m in parsed]
    assert ks == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 25]  # every ~10 %, and the last
    epsilons = [float(m.group(2)) for m in parsed]
    assert all(a < b for a, b in zip(epsilons, epsilons[1:])), epsilons
    # At k = N: the ε the run reports, by the accountant called independently.
    final = privacy.account(settings.num_users, settings.users_per_step, steps,
                            settings.noise_multiplier, settings.l2_norm_clip,
                            settings.max_examples_per_user, 180, settings.delta,
                            earlier_runs=EARLIER, popularity_noise_multiplier=5.0,
                            user_count_noise_multiplier=10.0).epsilon
    assert settings.epsilon_spent(steps, EARLIER) == pytest.approx(final, rel=1e-9)
    assert epsilons[-1] == pytest.approx(final, abs=0.005)
    assert settings.epsilon_spent(steps) == pytest.approx(
        settings.account(180).epsilon_this_run, rel=1e-9)


def test_nobody_listening_costs_no_accounting():
    calls = []
    _fit(5, step_progress.StepProgress(5, lambda k: calls.append(k) or 1.0, every=1))
    assert calls == []
