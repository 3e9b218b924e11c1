"""Proxy runs: the fit callback, the recorder, and scores read from a fixed logit table."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import softmax

from coresets.scaling import ClassificationData
from coresets.scaling.proxy import OutputRecorder, ProxyRun, proxy_run, proxy_trainer
from coresets.scaling.trainers import TorchClassifierTrainer, mlp
from coresets.scores import aum_scores, el2n_scores, forgetting_events, margin_scores


def _blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, 4)).astype(np.float32) + 3.0 * np.eye(3, 4)[y].astype(np.float32)
    return X, y


def _trainer(steps=30, **kw):
    params = dict(min_steps=steps, max_steps=steps, val_fraction=0.0, refit=False, calibrate=False)
    params.update(kw)
    return TorchClassifierTrainer(mlp(4, 3, hidden=(8,)), device="cpu", **params)


# a table of logits by hand: 2 seeds x 3 steps x 2 rows x 3 classes
LOGITS = np.log(
    np.array(
        [
            [  # seed 0
                [[7, 2, 1], [1, 3, 6]],
                [[2, 7, 1], [1, 6, 3]],
                [[7, 2, 1], [1, 6, 3]],
            ],
            [  # seed 1
                [[6, 3, 1], [3, 1, 6]],
                [[7, 2, 1], [3, 6, 1]],
                [[7, 2, 1], [2, 7, 1]],
            ],
        ],
        dtype=np.float64,
    )
    / 10.0
).astype(np.float32)
Y = np.array([0, 1])


def _run():
    return ProxyRun(LOGITS, np.array([10, 20, 30]), Y, seconds=1.5)


def test_scores_from_a_fixed_logit_table():
    run = _run()
    probs = softmax(LOGITS.astype(np.float64), axis=-1)
    # EL2N at step 20: the mean over the two seeds of ||p - onehot||
    p20 = probs[:, 1]
    want = np.mean([np.linalg.norm(p20[s] - np.eye(3)[Y], axis=1) for s in range(2)], axis=0)
    np.testing.assert_allclose(run.el2n(20), want, rtol=1e-6)
    # row 0 at step 20, seed 0 has p = (.2, .7, .1): error (-.8, .7, .1)
    assert run.el2n(20)[0] == pytest.approx(
        (np.sqrt(0.64 + 0.49 + 0.01) + np.sqrt(0.09 + 0.04 + 0.01)) / 2, rel=1e-6
    )
    # no step: every record of every seed counts once
    np.testing.assert_allclose(run.el2n(), el2n_scores(probs.reshape(6, 2, 3), Y), rtol=1e-6)
    np.testing.assert_allclose(run.margin(30), margin_scores(probs[:, 2], Y), rtol=1e-6)


def test_forgetting_and_aum_from_the_history():
    run = _run()
    # correctness (argmax == y) per seed over steps:
    # seed 0, row 0: T F T -> 1 event; row 1: F T T -> 0
    # seed 1, row 0: T T T -> 0;       row 1: F T T -> 0
    np.testing.assert_allclose(run.forgetting(), [0.5, 0.0])
    assert forgetting_events(np.array([[1, 0], [0, 1], [1, 1]])).tolist() == [1, 0]
    want = np.mean([aum_scores(LOGITS[s].astype(np.float64), Y) for s in range(2)], axis=0)
    np.testing.assert_allclose(run.aum(), want, rtol=1e-6)


def test_unrecorded_step_is_refused():
    with pytest.raises(ValueError, match="step 25 was not recorded"):
        _run().el2n(25)


def test_fit_callback_sees_every_step_in_train_mode_and_changes_nothing():
    X, y = _blobs()
    seen = []

    def callback(model, step):
        seen.append((step, model.training))

    trainer = _trainer(steps=12)
    with_cb = trainer.fit((X, y), seed=3, callback=callback)
    without = trainer.fit((X, y), seed=3)
    assert seen == [(s, True) for s in range(1, 13)]
    for a, b in zip(with_cb.parameters(), without.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_callback_is_called_in_the_refit_too():
    X, y = _blobs()
    steps = []
    trainer = TorchClassifierTrainer(
        mlp(4, 3, hidden=(8,)), device="cpu", min_steps=20, max_steps=20, patience=50
    )
    trainer.fit((X, y), seed=0, callback=lambda m, s: steps.append(s))
    # the split run counts 1..20, the refit counts again from 1
    assert steps[:20] == list(range(1, 21))
    assert steps[20] == 1 and len(steps) > 20


def test_recorder_records_exactly_the_asked_steps_and_restores_the_mode():
    X, y = _blobs()
    rec = OutputRecorder(X, [5, 2, 5])
    model = _trainer(steps=6).fit((X, y), seed=0, callback=rec)
    assert rec.steps == (2, 5)
    assert sorted(rec.logits) == [2, 5]
    assert rec.logits[5].shape == (len(X), 3) and rec.logits[5].dtype == np.float32
    assert not model.training  # fit returns an eval-mode model


def test_proxy_run_is_deterministic_and_matches_its_parts():
    X, y = _blobs()
    trainer = _trainer(steps=20)
    a = proxy_run((X, y), trainer=trainer, record_steps=[5, 20], seeds=2, features=True)
    b = proxy_run((X, y), trainer=trainer, record_steps=[5, 20], seeds=2, features=True)
    assert a.logits.shape == (2, 2, len(X), 3)
    np.testing.assert_array_equal(a.logits, b.logits)
    np.testing.assert_array_equal(a.features, b.features)
    assert a.features.shape == (len(X), 8)
    # the features' logits are the final model's: the step-20 record is that model too
    np.testing.assert_allclose(a.feature_logits, a.logits[0, -1], rtol=1e-5, atol=1e-5)
    assert a.gradient_features().shape == (len(X), 3 * 8)
    assert a.seconds > 0
    # seed 1's block is the recorder's output of a fit with seed 1
    rec = OutputRecorder(X, [5, 20])
    trainer.fit((X, y), seed=1, callback=rec)
    np.testing.assert_array_equal(a.logits[1, 0], rec.logits[5])
    # a proxy trained on separable blobs ends with the hardest rows a minority
    assert a.el2n(20).mean() < a.el2n(5).mean()


def test_proxy_trainer_trains_on_every_row_for_the_given_steps():
    X, y = _blobs()
    data = ClassificationData(X, y, X, y, name="blobs", model="mlp")
    trainer = proxy_trainer(data, 25)
    assert (trainer.min_steps, trainer.max_steps, trainer.val_fraction) == (25, 25, 0.0)
    assert not trainer.refit and not trainer.calibrate
    steps = []
    trainer.fit((X, y), seed=0, callback=lambda m, s: steps.append(s))
    assert steps == list(range(1, 26))


class _NoCallbackTrainer:
    def fit(self, train, weights=None, seed=0):
        raise AssertionError("must not be called")

    def evaluate(self, model, test):
        return {}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"trainer": _NoCallbackTrainer()}, TypeError, "callback"),
        ({"record_steps": []}, ValueError, "steps must name"),
        ({"record_steps": [0]}, ValueError, "steps"),
        ({"seeds": 0}, ValueError, "seeds"),
        ({"record_steps": [500]}, ValueError, "never reached"),
    ],
)
def test_proxy_run_bad_input_names_the_argument(kwargs, error, match):
    X, y = _blobs()
    params = {"trainer": _trainer(steps=10), "record_steps": [5]}
    params.update(kwargs)
    with pytest.raises(error, match=match):
        proxy_run((X, y), **params)


def test_proxy_run_checks_train_and_the_callback_type():
    X, y = _blobs()
    with pytest.raises(TypeError, match="train"):
        proxy_run(X, trainer=_trainer(), record_steps=[1])
    with pytest.raises(ValueError, match="same"):
        proxy_run((X, y[:-1]), trainer=_trainer(), record_steps=[1])
    with pytest.raises(TypeError, match="callback"):
        _trainer().fit((X, y), callback=3)


def test_gradient_features_by_hand():
    # h = (1, 2); z = (0, 0) -> softmax (1/2, 1/2); y = 0 -> g = (-1/2, 1/2); g h^T row-major
    run = ProxyRun(
        np.zeros((1, 1, 2, 2), np.float32),
        np.array([1]),
        np.array([0, 1]),
        seconds=0.0,
        features=np.array([[1.0, 2.0], [3.0, 0.0]], np.float32),
        feature_logits=np.array([[0.0, 0.0], [0.0, np.log(3.0)]], np.float32),
    )
    # row 1: softmax (1/4, 3/4), y = 1 -> g = (1/4, -1/4); h = (3, 0)
    expected = [[-0.5, -1.0, 0.5, 1.0], [0.75, 0.0, -0.75, 0.0]]
    np.testing.assert_allclose(run.gradient_features(), expected, atol=1e-6)
    with pytest.raises(ValueError, match="features=True"):
        ProxyRun(np.zeros((1, 1, 2, 2)), np.array([1]), np.array([0, 1]), 0.0).gradient_features()
