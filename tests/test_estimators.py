"""Behaviour of RNNClassifier and RNNSequenceRegressor as scikit-learn estimators."""

import io
import pickle
import re
import warnings
from contextlib import redirect_stdout

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import sklearn_rnn._base
from sklearn_rnn import RNNClassifier, RNNSequenceRegressor

FAST = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)


def ragged(n, rng, low=3, high=60, n_features=2):
    return [rng.standard_normal((rng.randint(low, high + 1), n_features))
            for _ in range(n)]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).reshape(-1, 8, 8)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


# ----------------------------------------------------------------- learning
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_digits_rows_as_sequences_reach_97_percent(digits, cell):
    X_train, X_test, y_train, y_test = digits
    clf = RNNClassifier(cell=cell, hidden_layer_sizes=(64,), learning_rate_init=0.01,
                        batch_size=32, max_iter=40, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.97


def test_pipeline_in_grid_search_over_clipping_and_truncation(digits):
    X_train, X_test, y_train, y_test = digits
    flat = X_train.reshape(len(X_train), -1)[:400]
    pipe = make_pipeline(
        StandardScaler(),
        FunctionTransformer(lambda Z: Z.reshape(len(Z), 8, 8)),
        RNNClassifier(cell="gru", hidden_layer_sizes=(16,), learning_rate_init=0.02,
                      max_iter=8, batch_size=32, random_state=0),
    )
    grid = GridSearchCV(pipe, {
        "rnnclassifier__clip_norm": [None, 1.0],
        "rnnclassifier__clip_value": [None, 0.5],
        "rnnclassifier__bptt_truncate": [None, 2],
    }, cv=2, n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(flat, y_train[:400])
    assert len(grid.cv_results_["params"]) == 8
    assert set(grid.best_params_) == {"rnnclassifier__clip_norm",
                                      "rnnclassifier__clip_value",
                                      "rnnclassifier__bptt_truncate"}
    # Truncating to the last 2 of 8 rows throws information away: it must lose.
    assert grid.best_params_["rnnclassifier__bptt_truncate"] is None
    X_test_flat = X_test.reshape(len(X_test), -1)
    assert grid.score(X_test_flat, y_test) > 0.8


# ------------------------------------------------------------- input forms
def test_all_input_forms_give_the_same_model():
    rng = np.random.RandomState(0)
    X3 = rng.standard_normal((40, 6, 1))
    y = (X3[:, :, 0].sum(axis=1) > 0).astype(int)
    forms = {
        "2d": X3[:, :, 0],
        "3d": X3,
        "list": list(X3),
        "object array": np.array(list(X3) + [None], dtype=object)[:-1],
        "sparse list": [sp.csr_matrix(x) for x in X3],
    }
    preds = {name: RNNClassifier(**FAST).fit(X, y).predict_proba(X)
             for name, X in forms.items()}
    for name, p in preds.items():
        np.testing.assert_allclose(p, preds["3d"], rtol=1e-10, err_msg=name)


def test_variable_length_list_equals_each_sequence_alone_and_padding():
    """Lengths 3..60: the same predictions from a list, from one sequence at a
    time, and in any batch composition."""
    rng = np.random.RandomState(1)
    X = ragged(80, rng)
    y = np.array([x[:, 0].mean() > 0 for x in X]).astype(int)
    for cell in ("elman", "lstm", "gru"):
        clf = RNNClassifier(cell=cell, bidirectional=True, **FAST).fit(X, y)
        together = clf.predict_proba(X)
        alone = np.vstack([clf.predict_proba([x]) for x in X])
        np.testing.assert_allclose(together, alone, rtol=1e-9, atol=1e-12)
        perm = rng.permutation(len(X))
        shuffled = clf.predict_proba([X[i] for i in perm])
        np.testing.assert_allclose(shuffled, together[perm], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
def test_list_equals_hand_padded_batch_read_at_each_true_last_step(cell):
    """Lengths 3..60 padded by hand with zeros at the end: a per-step model with
    the same weights, read at each sequence's true last step (masking by hand),
    gives the predictions of the list form (masking done internally)."""
    rng = np.random.RandomState(2)
    X = ragged(40, rng)
    y = rng.standard_normal(40)
    reg = RNNSequenceRegressor(cell=cell, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    lengths = np.array([len(x) for x in X])
    padded = np.zeros((40, lengths.max(), 2))
    for i, x in enumerate(X):
        padded[i, : len(x)] = x
    per_step = RNNSequenceRegressor(cell=cell, return_sequences=True, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        per_step.set_params(max_iter=1).fit(padded[:2], [np.zeros(lengths.max())] * 2)
    per_step.set_weights(reg.get_weights())
    outputs = np.asarray(per_step.predict(padded))  # (n_samples, T_max)
    by_hand = outputs[np.arange(40), lengths - 1]
    np.testing.assert_allclose(reg.predict(X), by_hand, rtol=1e-10, atol=1e-12)
    # Reading the padded array as if every step were real gives other answers.
    assert not np.allclose(reg.predict(padded), reg.predict(X))


def test_float32_input_trains_in_float32():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((30, 5, 2)).astype(np.float32)
    y = rng.randint(0, 3, 30)
    clf = RNNClassifier(**FAST).fit(X, y)
    assert clf._params.dtype == np.float32
    assert all(w.dtype == np.float32 for w in clf.get_weights().values())


# ------------------------------------------------------------------ outputs
def test_string_labels_binary_and_multiclass():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((40, 4, 2))
    for labels in (np.array(["no", "yes"]), np.array(["a", "b", "c"])):
        y = labels[rng.randint(len(labels), size=40)]
        clf = RNNClassifier(**FAST).fit(X, y)
        assert list(clf.classes_) == sorted(labels)
        assert set(clf.predict(X)) <= set(labels)
        proba = clf.predict_proba(X)
        assert proba.shape == (40, len(labels))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))
        assert clf.n_outputs_ == (1 if len(labels) == 2 else len(labels))


def test_multi_output_regression():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((50, 5, 2))
    Y = np.stack([X[:, :, 0].sum(1), X[:, -1, 1]], axis=1)
    reg = RNNSequenceRegressor(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=200,
                               random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (50, 2)
    assert reg.score(X, Y) > 0.9


def test_per_step_classification_and_regression():
    rng = np.random.RandomState(0)
    X = ragged(60, rng, 2, 12, n_features=1)
    # Per-step label: is the running sum positive? Needs memory of the past.
    y_cls = [(np.cumsum(x[:, 0]) > 0).astype(int) for x in X]
    clf = RNNClassifier(cell="gru", hidden_layer_sizes=(16,), return_sequences=True,
                        solver="lbfgs", max_iter=150, random_state=0).fit(X, y_cls)
    pred = clf.predict(X)
    assert [len(p) for p in pred] == [len(x) for x in X]
    assert clf.predict_proba(X)[0].shape == (len(X[0]), 2)
    assert clf.score(X, y_cls) > 0.9
    y_reg = [np.cumsum(x, axis=0) for x in X]  # (T_i, 1) per-step targets
    reg = RNNSequenceRegressor(cell="lstm", hidden_layer_sizes=(16,),
                               return_sequences=True, solver="lbfgs", max_iter=150,
                               random_state=0).fit(X, y_reg)
    assert reg.predict(X)[3].shape == y_reg[3].shape
    assert reg.score(X, y_reg) > 0.9


def test_per_step_targets_must_match_lengths():
    X = [np.zeros((3, 1)), np.zeros((5, 1))]
    clf = RNNClassifier(return_sequences=True, **FAST)
    with pytest.raises(ValueError, match=r"sequence 1 .* expected \(5,\)"):
        clf.fit(X, [np.zeros(3), np.zeros(4)])
    with pytest.raises(ValueError, match=r"sequence 0 have shape \(\); expected"):
        clf.fit(X, np.zeros(2))
    with pytest.raises(ValueError, match="list of 2 per-step target arrays"):
        clf.fit(X, [np.zeros(3)])


# ------------------------------------------------------------ training loop
def test_convergence_warning_and_loss_curve():
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((30, 4, 2)), rng.randint(0, 2, 30)
    clf = RNNClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations") as record:
        clf.fit(X, y)
    assert record[0].filename == __file__  # points at the caller, not our internals
    assert clf.n_iter_ == 3 == len(clf.loss_curve_)
    assert clf.t_ == 90
    assert clf.loss_ == clf.loss_curve_[-1]


def test_verbose_prints_one_line_per_epoch():
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((60, 4, 2)), rng.randint(0, 2, 60)
    out = io.StringIO()
    with redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        RNNClassifier(hidden_layer_sizes=(4,), max_iter=3, verbose=True,
                      early_stopping=True, random_state=0).fit(X, y)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 3
    pattern = r"Iteration \d+, loss = [\d.]+, validation score = [\d.]+, time = [\d.]+s"
    assert all(re.fullmatch(pattern, line) for line in lines)


def test_early_stopping_restores_the_best_weights(monkeypatch):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((200, 6, 2))
    y = (X[:, :, 0].mean(axis=1) > 0).astype(int)
    # Record the validation indices the estimator draws, to score on them below.
    seen = []

    def recording_split(*args, **kwargs):
        parts = train_test_split(*args, **kwargs)
        seen.append(parts[1])
        return parts

    monkeypatch.setattr(sklearn_rnn._base, "train_test_split", recording_split)
    clf = RNNClassifier(hidden_layer_sizes=(8,), early_stopping=True, max_iter=30,
                        n_iter_no_change=3, learning_rate_init=0.05, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert len(clf.validation_loss_curve_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    # The stop came after n_iter_no_change epochs without improvement, so the
    # last epoch's weights are not the best ones; the restored weights are.
    assert clf.validation_scores_[-1] < clf.best_validation_score_
    (idx_val,) = seen
    assert len(idx_val) == 20
    assert clf.score(X[idx_val], y[idx_val]) == pytest.approx(
        clf.best_validation_score_)


def test_warm_start_and_partial_fit_continue():
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((40, 5, 2)), rng.randint(0, 3, 40)
    clf = RNNClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0,
                        warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        before = clf.get_weights()
        clf.fit(X, y)
    assert clf.n_iter_ == 4 and len(clf.loss_curve_) == 4
    assert not np.allclose(before["weight_hh_l0"], clf.get_weights()["weight_hh_l0"])

    inc = RNNClassifier(hidden_layer_sizes=(8,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        inc.partial_fit(X, y)
    inc.partial_fit(X[:20], y[:20], classes=[0, 1, 2])
    inc.partial_fit(X[20:], y[20:])
    assert inc.n_iter_ == 2 and inc.t_ == 40
    with pytest.raises(ValueError, match=r"labels \[7\] not among classes_"):
        inc.partial_fit(X[:2], [0, 7])
    with pytest.raises(ValueError, match="early_stopping"):
        clone(inc).set_params(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    assert not hasattr(RNNClassifier(solver="lbfgs"), "partial_fit")


def test_class_weight_equals_matching_sample_weight():
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((40, 4, 2)), rng.randint(0, 2, 40)
    params = dict(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=20, random_state=0)
    by_class = RNNClassifier(class_weight={0: 1.0, 1: 3.0}, **params).fit(X, y)
    by_sample = RNNClassifier(**params).fit(X, y, sample_weight=np.where(y, 3.0, 1.0))
    np.testing.assert_allclose(by_class.predict_proba(X), by_sample.predict_proba(X))
    balanced = RNNClassifier(class_weight="balanced", **params).fit(X, y)
    assert not np.allclose(balanced.predict_proba(X), by_class.predict_proba(X))


# ------------------------------------------------- weights and persistence
def test_get_weights_use_pytorch_state_dict_names_and_layout():
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((20, 4, 3)), rng.randint(0, 4, 20)
    clf = RNNClassifier(cell="lstm", hidden_layer_sizes=(5, 6), bidirectional=True,
                        max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    w = clf.get_weights()
    assert w["weight_ih_l0"].shape == (20, 3)
    assert w["weight_hh_l0_reverse"].shape == (20, 5)
    assert w["weight_ih_l1"].shape == (24, 10)
    assert w["bias_hh_l1_reverse"].shape == (24,)
    assert w["output.weight"].shape == (4, 12)
    assert len(w) == 4 * 4 + 2
    clone_clf = clone(clf)
    with pytest.raises(NotFittedError):
        clone_clf.get_weights()


def test_set_weights_round_trip_and_initialises_partial_fit():
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((30, 4, 2)), rng.standard_normal(30)
    reg = RNNSequenceRegressor(cell="gru", **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    # Weights set on an unfitted estimator initialise it, but predicting still
    # needs a fit or partial_fit (which validates X and fixes n_features_in_).
    fresh = clone(reg).set_weights(reg.get_weights())
    with pytest.raises(NotFittedError):
        fresh.predict(X)
    # partial_fit continues from the given weights: one step, not a restart.
    fresh.partial_fit(X, y)
    assert fresh.score(X, y) > clone(reg).partial_fit(X, y).score(X, y)
    # warm_start fit from trained weights beats one epoch from scratch.
    warm = clone(reg).set_params(warm_start=True, max_iter=1)
    warm.set_weights(reg.get_weights())
    cold = clone(reg).set_params(max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm.fit(X, y)
        cold.fit(X, y)
    assert warm.score(X, y) > cold.score(X, y)
    bad = reg.get_weights()
    bad["weight_hh_l0"] = bad["weight_hh_l0"][:, :3]
    with pytest.raises(ValueError, match="weight_hh_l0"):
        clone(reg).set_weights(bad)
    del bad["output.bias"]
    with pytest.raises(ValueError, match="exactly the keys"):
        clone(reg).set_weights(bad)


@pytest.mark.parametrize("Estimator", [RNNClassifier, RNNSequenceRegressor])
def test_pickle_and_joblib_round_trips_predict_identically(tmp_path, Estimator):
    rng = np.random.RandomState(0)
    X = ragged(25, rng, 2, 9)
    y = rng.randint(0, 2, 25) if Estimator is RNNClassifier else rng.standard_normal(25)
    est = Estimator(cell="lstm", bidirectional=True, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))
    joblib.dump(est, tmp_path / "model.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "model.joblib").predict(X),
                                  est.predict(X))


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_same_random_state_gives_identical_models(cell, solver):
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((30, 4, 2)), rng.randint(0, 2, 30)
    params = dict(cell=cell, solver=solver, hidden_layer_sizes=(4,), max_iter=3,
                  random_state=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = RNNClassifier(**params).fit(X, y).get_weights()
        est = RNNClassifier(**params)
        b = est.fit(X, y).get_weights()
        c = est.fit(X, y).get_weights()  # refit
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
        np.testing.assert_array_equal(a[name], c[name])


# ------------------------------------------------------ why gated cells exist
def adding_problem(n, T, rng):
    """Hochreiter & Schmidhuber's adding problem: the target is the sum of the two
    values marked in the second feature, one in each half of the sequence."""
    X = np.zeros((n, T, 2))
    X[:, :, 0] = rng.uniform(0, 1, (n, T))
    rows = np.arange(n)
    first, second = rng.randint(0, T // 2, n), rng.randint(T // 2, T, n)
    X[rows, first, 1] = X[rows, second, 1] = 1
    return X, X[rows, first, 0] + X[rows, second, 0]


@pytest.fixture(scope="module")
def adding_T100():
    rng = np.random.RandomState(0)
    X_train, y_train = adding_problem(2000, 100, rng)
    X_test, y_test = adding_problem(500, 100, rng)
    trivial_mse = np.mean((y_test - y_train.mean()) ** 2)  # ~1/6
    return X_train, y_train, X_test, y_test, trivial_mse


@pytest.mark.parametrize(
    "cell, max_iter, solves",
    [("lstm", 20, True), ("gru", 12, True), ("elman", 10, False)],
)
def test_adding_problem_T100_needs_gated_cells(adding_T100, cell, max_iter, solves):
    """The marked values sit up to 100 steps before the output. LSTM and GRU learn
    to carry them through their gates; Elman's gradient from the output vanishes
    long before reaching them, so it stays at the trivial predictor's error."""
    X_train, y_train, X_test, y_test, trivial_mse = adding_T100
    reg = RNNSequenceRegressor(cell=cell, hidden_layer_sizes=(32,), batch_size=50,
                               learning_rate_init=0.01, clip_norm=1.0,
                               max_iter=max_iter, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X_train, y_train)
    mse = np.mean((reg.predict(X_test) - y_test) ** 2)
    if solves:
        assert mse < 0.05 * trivial_mse
    else:
        assert mse > 0.8 * trivial_mse
