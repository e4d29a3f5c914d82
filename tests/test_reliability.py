"""Reliability: divergence, interruption, persistence, concurrency, determinism.

Nothing is lost: a diverging or interrupted fit keeps usable finite weights,
a saved model predicts and continues training exactly as the original, and
parallel or threaded use gives the results of serial use.
(Basic pickle/joblib round trips and cell x solver determinism are in
test_estimators.py; these tests extend them.)
"""

import pickle
import threading
import tracemalloc
import warnings
from concurrent.futures import ThreadPoolExecutor

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, InconsistentVersionWarning
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

import sklearn_rnn._base
from sklearn_rnn import (
    BagOfWordsSequencer,
    ModelVersionWarning,
    RNNClassifier,
    RNNSequenceRegressor,
)
from sklearn_rnn._core._network import RecurrentNetwork


def quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def regression_data(n=60, T=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, T, 2))
    return X, X[:, :, 0].sum(axis=1)


def ragged(n, seed=0, n_features=2):
    rng = np.random.RandomState(seed)
    return [rng.standard_normal((rng.randint(1, 9), n_features)) for _ in range(n)]


def assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert wa.keys() == wb.keys()
    for name in wa:
        np.testing.assert_array_equal(wa[name], wb[name], err_msg=name)


# ------------------------------------------------------------------ divergence
# A ReLU Elman network with SGD at learning rate 0.1 and no clipping blows up
# (measured: a non-finite loss in epoch 12); with clip_norm=1.0 it trains.
EXPLODING = dict(cell="elman", activation="relu", solver="sgd",
                 learning_rate_init=0.1, hidden_layer_sizes=(8,), batch_size=20,
                 max_iter=15, random_state=0)


def test_divergence_warns_suggests_clip_norm_and_keeps_the_best_weights():
    X, y = regression_data()
    reg = RNNSequenceRegressor(**EXPLODING)
    with np.errstate(over="ignore", invalid="ignore"), pytest.warns(
            ConvergenceWarning, match=r"diverged.*clip_norm"):
        reg.fit(X, y)
    assert reg.n_iter_ < EXPLODING["max_iter"]  # it stopped early
    assert np.isfinite(reg.loss_curve_).all()
    assert all(np.isfinite(w).all() for w in reg.get_weights().values())
    assert np.isfinite(reg.predict(X)).all()
    # The kept weights are those of the epoch with the lowest loss: the same
    # run stopped after that epoch has them, bit for bit.
    best_epoch = int(np.argmin(reg.loss_curve_)) + 1
    assert reg.best_loss_ == min(reg.loss_curve_)
    stopped = quiet_fit(clone(reg).set_params(max_iter=best_epoch), X, y)
    assert_same_weights(reg, stopped)


def test_the_same_run_with_clip_norm_trains():
    X, y = regression_data()
    reg = RNNSequenceRegressor(**{**EXPLODING, "clip_norm": 1.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        warnings.filterwarnings("ignore", "Stochastic Optimizer: Maximum iterations",
                                ConvergenceWarning)
        reg.fit(X, y)
    assert reg.n_iter_ == EXPLODING["max_iter"]
    assert np.isfinite(reg.loss_curve_).all()
    assert reg.loss_curve_[-1] < reg.loss_curve_[0] / 5
    assert reg.score(X, y) > 0.8


def poison(monkeypatch, on_call, how):
    """Make the engine's loss (or gradient) misbehave on the ``on_call``-th batch."""
    original = RecurrentNetwork.loss_and_grad
    calls = []

    def loss_and_grad(self, *args, **kwargs):
        calls.append(1)
        loss, grad = original(self, *args, **kwargs)
        if len(calls) == on_call:
            if how == "nan loss":
                loss = np.nan
            elif how == "inf gradient":
                grad = np.full_like(grad, np.inf)
            elif how == "interrupt":
                raise KeyboardInterrupt
            else:  # finite, but the update overflows the weights
                grad = np.full_like(grad, np.finfo(grad.dtype).max)
        return loss, grad

    monkeypatch.setattr(RecurrentNetwork, "loss_and_grad", loss_and_grad)
    return calls


@pytest.mark.parametrize("solver, how", [
    ("sgd", "nan loss"), ("adam", "nan loss"), ("sgd", "inf gradient"),
    ("adam", "inf gradient"),
    ("sgd", "overflowing update"),  # Adam's step is bounded by its learning rate
])
def test_any_non_finite_step_stops_with_the_best_finite_weights(monkeypatch, solver,
                                                                how):
    X, y = regression_data(40)
    params = dict(cell="gru", solver=solver, hidden_layer_sizes=(4,), batch_size=10,
                  learning_rate_init=10.0 if how == "overflowing update" else 0.01,
                  max_iter=5, random_state=0)
    reference = quiet_fit(RNNSequenceRegressor(**{**params, "max_iter": 2}), X, y)
    poison(monkeypatch, on_call=11, how=how)  # the 3rd step of epoch 3
    reg = RNNSequenceRegressor(**params)
    with np.errstate(over="ignore", invalid="ignore"), pytest.warns(
            ConvergenceWarning, match="diverged at iteration 3.*clip_norm"):
        reg.fit(X, y)
    assert reg.n_iter_ == 2
    if how != "overflowing update":  # a huge learning rate: epoch 1 may be best
        assert reg.best_loss_ == reg.loss_curve_[-1]
        assert_same_weights(reg, reference)
    assert np.isfinite(reg.predict(X)).all()
    monkeypatch.undo()
    reg.partial_fit(X, y)  # continues, with a fresh optimizer
    assert reg.n_iter_ == 3 and np.isfinite(reg.predict(X)).all()


# ---------------------------------------------------------- KeyboardInterrupt
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_keyboard_interrupt_keeps_the_weights_reached_so_far(solver):
    X, y = regression_data(40)
    params = dict(cell="lstm", solver=solver, hidden_layer_sizes=(4,), batch_size=20,
                  max_iter=10, random_state=0)
    reg = RNNSequenceRegressor(**params)
    train_step = reg._train_step
    calls = []

    def interrupted_on_third_call(*args):
        calls.append(1)
        if len(calls) == 3:  # the first step of epoch 2
            raise KeyboardInterrupt
        return train_step(*args)

    reg._train_step = interrupted_on_third_call
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        reg.fit(X, y)
    del reg._train_step
    assert reg.n_iter_ == 1
    one_epoch = quiet_fit(RNNSequenceRegressor(**{**params, "max_iter": 1}), X, y)
    assert_same_weights(reg, one_epoch)  # both steps of epoch 1, nothing more
    np.testing.assert_array_equal(reg.predict(X), one_epoch.predict(X))
    reg.partial_fit(X, y)  # and it can go on training
    assert reg.n_iter_ == 2


def test_keyboard_interrupt_during_lbfgs_keeps_the_best_point_so_far(monkeypatch):
    X, y = regression_data(40)
    reg = RNNSequenceRegressor(cell="gru", solver="lbfgs", hidden_layer_sizes=(4,),
                               alpha=0.0, max_iter=100, random_state=0)
    original = RecurrentNetwork.loss_and_grad
    losses = []

    def loss_and_grad(self, *args, **kwargs):
        if len(losses) == 15:
            raise KeyboardInterrupt
        loss, grad = original(self, *args, **kwargs)
        losses.append(loss)
        return loss, grad

    monkeypatch.setattr(RecurrentNetwork, "loss_and_grad", loss_and_grad)
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        reg.fit(X, y)
    monkeypatch.undo()
    # One batch and alpha=0: every evaluation is the training loss at a point.
    assert reg.loss_ == pytest.approx(min(losses), rel=1e-12)
    assert reg.loss_ < losses[0] / 2
    assert 0 < reg.n_iter_ < 15
    assert np.isfinite(reg.predict(X)).all()
    np.testing.assert_allclose(np.mean((reg.predict(X) - y) ** 2) / 2, reg.loss_,
                               rtol=1e-10)


# ----------------------------------------------------------------- persistence
def round_trips(est, tmp_path):
    """The estimator after pickle and after joblib (compressed) round trips."""
    path = tmp_path / "est.joblib"
    joblib.dump(est, path, compress=3)
    return [pickle.loads(pickle.dumps(est)), joblib.load(path)]


CASES = {
    "classifier, sparse sequences": (
        RNNClassifier(cell="gru", hidden_layer_sizes=(4,), max_iter=3, random_state=0),
        [sp.csr_matrix(x > 0, dtype=np.float32) for x in ragged(20)],
        np.arange(20) % 3,
    ),
    "regressor, per-step float32": (
        RNNSequenceRegressor(cell="elman", hidden_layer_sizes=(3, 2),
                             return_sequences=True, max_iter=3, random_state=0),
        [x.astype(np.float32) for x in ragged(20)],
        [x[:, 0].cumsum() for x in ragged(20)],
    ),
    "classifier, univariate 2-D, lbfgs": (
        RNNClassifier(cell="lstm", solver="lbfgs", hidden_layer_sizes=(3,),
                      max_iter=5, random_state=0),
        np.random.RandomState(0).standard_normal((20, 5)),
        np.arange(20) % 2,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_fitted_and_unfitted_round_trips_predict_identically(case, tmp_path):
    est, X, y = CASES[case]
    for restored in round_trips(clone(est), tmp_path):  # unfitted
        assert restored.get_params() == est.get_params()
        a, b = quiet_fit(clone(est), X, y), quiet_fit(restored, X, y)
        assert_same_weights(a, b)
    fitted = quiet_fit(clone(est), X, y)
    expected = fitted.predict(X)
    for restored in round_trips(fitted, tmp_path):
        pred = restored.predict(X)
        if isinstance(expected, list):
            for p, e in zip(pred, expected, strict=True):
                np.testing.assert_array_equal(p, e)
        else:
            np.testing.assert_array_equal(pred, expected)
        assert restored.n_features_in_ == fitted.n_features_in_
        assert restored.loss_curve_ == fitted.loss_curve_


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_continues_identically_after_a_round_trip(solver, tmp_path):
    """Optimizer moments, learning-rate state and the shuffling RNG survive."""
    X, y = regression_data(40)
    reg = RNNSequenceRegressor(cell="gru", solver=solver, hidden_layer_sizes=(4,),
                               batch_size=10, learning_rate="adaptive",
                               random_state=0)
    reg.partial_fit(X, y).partial_fit(X, y)
    snapshot = round_trips(reg, tmp_path)
    reg.partial_fit(X, y).partial_fit(X, y)
    for other in snapshot:
        other.partial_fit(X, y).partial_fit(X, y)
        assert_same_weights(reg, other)
        assert other.t_ == reg.t_ == 160
        assert other.loss_curve_ == reg.loss_curve_


def test_warm_start_continues_identically_after_a_round_trip(tmp_path):
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((40, 5, 2)), np.arange(40) % 3
    clf = RNNClassifier(cell="lstm", hidden_layer_sizes=(4,), max_iter=2,
                        warm_start=True, batch_size=16, random_state=0)
    quiet_fit(clf, X, y)
    snapshot = round_trips(clf, tmp_path)
    quiet_fit(clf, X, y)
    for other in snapshot:
        quiet_fit(other, X, y)
        assert other.n_iter_ == clf.n_iter_ == 4
        assert_same_weights(clf, other)
        np.testing.assert_array_equal(other.predict_proba(X), clf.predict_proba(X))


DOCS = ["the cat sat on the mat", "a dog ate my homework", "the dog sat",
        "cats and dogs", "unknown words appear here"]


def test_sequencer_round_trips_transform_identically(tmp_path):
    seq = BagOfWordsSequencer(max_len=4, truncating="post")
    for restored in round_trips(seq, tmp_path):  # unfitted
        assert restored.get_params() == seq.get_params()
    seq.fit(DOCS[:4])
    expected = seq.transform(DOCS)
    for restored in round_trips(seq, tmp_path):
        assert restored.vocabulary_ == seq.vocabulary_
        got = restored.transform(DOCS)
        assert len(got) == len(expected)
        for a, b in zip(got, expected, strict=True):
            assert a.shape == b.shape and (a != b).nnz == 0
        for a, b in zip(restored.inverse_transform(got),
                        seq.inverse_transform(expected), strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("library", ["sklearn_rnn", "scikit-learn"])
def test_a_sequencer_pickle_from_another_version_says_so(library):
    docs = ["the cat sat", "the dog ran"]
    sequencer = BagOfWordsSequencer().fit(docs)
    state = sequencer.__getstate__()
    state["_saved_with"] = {**state["_saved_with"], library: "0.0.1"}
    restored = BagOfWordsSequencer.__new__(BagOfWordsSequencer)
    with pytest.warns(ModelVersionWarning, match=f"saved with {library} 0.0.1"):
        restored.__setstate__(state)
    assert restored.vocabulary_ == sequencer.vocabulary_
    assert not hasattr(restored, "_saved_with")


@pytest.mark.parametrize("library", ["sklearn_rnn", "scikit-learn"])
@pytest.mark.parametrize("Estimator", [RNNClassifier, RNNSequenceRegressor])
def test_a_pickle_from_another_version_says_so_and_our_state_survives(Estimator,
                                                                      library):
    """scikit-learn records its version only in its own estimators' pickles, so
    ours record both libraries' versions and warn on a mismatch."""
    X, y = regression_data(10)
    est = quiet_fit(Estimator(hidden_layer_sizes=(3,), max_iter=2, random_state=0),
                    X, y > 0 if Estimator is RNNClassifier else y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same versions: silent
        same = pickle.loads(pickle.dumps(est))
    state = est.__getstate__()
    state["_saved_with"] = {**state["_saved_with"], library: "0.0.1"}
    restored = Estimator.__new__(Estimator)
    with pytest.warns(InconsistentVersionWarning,
                      match=f"saved with {library} 0.0.1 when using {library} "):
        restored.__setstate__(state)
    older = est.__getstate__()
    del older["_saved_with"]  # saved before versions were recorded
    with pytest.warns(InconsistentVersionWarning) as record:
        Estimator.__new__(Estimator).__setstate__(older)
    assert sorted(str(w.message).split(" when")[0].split("saved with ")[1]
                  for w in record) == ["scikit-learn unknown", "sklearn_rnn unknown"]
    for other in (same, restored):
        assert not hasattr(other, "_saved_with")
        np.testing.assert_array_equal(other.predict(X), est.predict(X))
        assert_same_weights(other, est)


# ----------------------------------------------------- concurrency and scale
def test_predict_on_100000_sequences_runs_in_bounded_memory(monkeypatch):
    T, H = 10, 8
    rng = np.random.RandomState(0)
    reg = quiet_fit(RNNSequenceRegressor(cell="elman", hidden_layer_sizes=(H,),
                                         max_iter=1, random_state=0),
                    rng.standard_normal((50, T, 1)), rng.standard_normal(50))
    X = rng.standard_normal((100_000, T, 1))
    tracemalloc.start()
    try:
        pred = reg.predict(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # An unchunked forward pass stores every hidden state at least: T*n*H floats.
    unchunked = T * len(X) * H * X.itemsize
    assert unchunked == 64_000_000
    assert peak < unchunked / 8
    assert pred.shape == (100_000,) and np.isfinite(pred).all()
    head = reg.predict(X[:600])  # different chunk boundaries, same answers
    np.testing.assert_allclose(pred[:600], head, rtol=1e-12, atol=1e-12)


def test_chunk_boundaries_do_not_change_predictions(monkeypatch):
    X = ragged(50, seed=3)
    clf = quiet_fit(RNNClassifier(cell="gru", hidden_layer_sizes=(4,),
                                  return_sequences=False, max_iter=2,
                                  random_state=0), X, np.arange(50) % 3)
    whole = clf.predict_proba(X)
    monkeypatch.setattr(sklearn_rnn._base, "PREDICT_CHUNK", 7)
    np.testing.assert_allclose(clf.predict_proba(X), whole, rtol=1e-12, atol=1e-15)
    reg = quiet_fit(RNNSequenceRegressor(hidden_layer_sizes=(3,),
                                         return_sequences=True, max_iter=2,
                                         random_state=0),
                    X, [x[:, 1] for x in X])
    chunked = reg.predict(X)
    monkeypatch.setattr(sklearn_rnn._base, "PREDICT_CHUNK", 512)
    for a, b in zip(chunked, reg.predict(X), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def small_problem():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((60, 5, 2))
    return X, (X[:, :, 0].sum(axis=1) > 0).astype(int)


def test_grid_search_with_two_jobs_matches_one_job():
    X, y = small_problem()
    grid = {"cell": ["elman", "gru"], "clip_norm": [None, 0.1]}  # 4 x 3 fits
    base = RNNClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    results = []
    for n_jobs in (1, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            search = GridSearchCV(base, grid, cv=KFold(3), n_jobs=n_jobs).fit(X, y)
        results.append(search)
    one, two = results
    np.testing.assert_allclose(two.cv_results_["mean_test_score"],
                               one.cv_results_["mean_test_score"], rtol=1e-12)
    assert two.best_params_ == one.best_params_
    np.testing.assert_allclose(two.predict_proba(X), one.predict_proba(X),
                               rtol=1e-10)


def test_cross_val_score_with_two_jobs_matches_one_job():
    X = ragged(45, seed=1)
    y = np.array([x[:, 0].sum() for x in X])
    reg = RNNSequenceRegressor(cell="lstm", hidden_layer_sizes=(4,), max_iter=3,
                               random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one = cross_val_score(reg, X, y, cv=3, n_jobs=1)
        two = cross_val_score(reg, X, y, cv=3, n_jobs=2)
    np.testing.assert_allclose(two, one, rtol=1e-10)


def test_two_threads_predicting_on_one_estimator_get_correct_answers():
    X, y = small_problem()
    clf = quiet_fit(RNNClassifier(cell="lstm", hidden_layer_sizes=(6,), max_iter=5,
                                  random_state=0), X, y)
    inputs = [X[i::4] for i in range(4)] + [ragged(30, seed=s, n_features=2)
                                             for s in range(4)]
    expected = [clf.predict_proba(Z) for Z in inputs]
    barrier = threading.Barrier(2)

    def worker(offset):
        barrier.wait()
        return [clf.predict_proba(inputs[(i + offset) % len(inputs)])
                for i in range(3 * len(inputs))]

    with ThreadPoolExecutor(max_workers=2) as pool:
        outputs = list(pool.map(worker, [0, 3]))
    for offset, results in zip([0, 3], outputs, strict=True):
        for i, proba in enumerate(results):
            np.testing.assert_allclose(
                proba, expected[(i + offset) % len(inputs)], rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------- determinism
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
def test_same_random_state_bit_identical_for_every_setting(cell, solver):
    """Regressor, stacked and bidirectional, per-step targets, float32, early
    stopping: two fits and a refit after fitting other data agree bit for bit."""
    X = [x.astype(np.float32) for x in ragged(24, seed=5)]
    y = [np.cumsum(x, axis=0) for x in X]
    params = dict(cell=cell, solver=solver, hidden_layer_sizes=(3, 2),
                  bidirectional=True, return_sequences=True, max_iter=3,
                  batch_size=8, random_state=11,
                  early_stopping=solver != "lbfgs", validation_fraction=0.25)
    first = quiet_fit(RNNSequenceRegressor(**params), X, y)
    second = RNNSequenceRegressor(**params)
    other_X = ragged(10, seed=9)
    quiet_fit(second, other_X, [x for x in other_X])  # unrelated data first
    quiet_fit(second, X, y)
    assert_same_weights(first, second)
    assert first.loss_curve_ == second.loss_curve_
    assert first.validation_scores_ == second.validation_scores_
    assert first.get_weights()["weight_ih_l0"].dtype == np.float32


def test_partial_fit_sequence_is_deterministic():
    X, y = small_problem()
    runs = []
    for _ in range(2):
        clf = RNNClassifier(cell="gru", hidden_layer_sizes=(4,), batch_size=16,
                            random_state=np.random.RandomState(3))
        for start in range(0, 60, 20):
            clf.partial_fit(X[start:start + 20], y[start:start + 20], classes=[0, 1])
        runs.append(clf)
    assert_same_weights(*runs)
