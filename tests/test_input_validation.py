"""The input contract at the boundary: every bad input is a clear error.

Property-based tests draw inputs in each of the four forms of X (2-D, 3-D,
list of arrays, list of sparse matrices, plus the 1-D object array), spoil them
in one known way, and check that the estimator either fits and predicts finite
values or raises ValueError/TypeError whose message names the problem.  The
explicit cases below pin the wording, parameter checks and nonsensical
combinations of parameters and methods.
"""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_rnn import RNNClassifier, RNNSequenceRegressor

TINY = dict(hidden_layer_sizes=(2,), max_iter=1, random_state=0)
PROPERTY = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

FORMS = ("2d", "3d", "list", "sparse", "object")
LIST_FORMS = ("list", "sparse", "object")
# What each spoiled input must give: None (fits) or (exception types, message).
OUTCOMES = {
    "none": None,
    "float32": None,
    "integers": None,
    "object_numbers": None,
    "huge": None,
    "empty_sequence": None,  # list forms: an empty sequence is the zero state
    "no_time_steps": (ValueError, r"0 time steps|0 feature\(s\)"),
    "no_samples": (ValueError, r"empty list|0 sample\(s\)"),
    "nan": (ValueError, r"NaN"),
    "inf": (ValueError, r"infinity"),
    "string": ((ValueError, TypeError), r"string|convert.* to float"),
    "complex": (ValueError, r"Complex data not supported"),
    "four_dims": (ValueError, r"(4|3) dimensions"),
    "zero_features": (ValueError, r"0 features per step"),
    "mixed_features": (ValueError, r"inconsistent numbers of features"),
    "mixed_sparse": (TypeError, r"mixes sparse and dense"),
    "y_too_short": (ValueError, r"inconsistent numbers of samples"),
    "y_nan": (ValueError, r"NaN"),
}
NOT_FOR = {  # problems a form cannot express
    "2d": {"empty_sequence", "zero_features", "mixed_features", "mixed_sparse"},
    "3d": {"empty_sequence", "mixed_features", "mixed_sparse"},
    "list": {"no_time_steps"},
    "object": {"no_time_steps"},
    "sparse": {"no_time_steps", "string", "object_numbers", "four_dims"},
}


def as_form(seqs, form):
    if form == "2d":
        return np.stack([s[:, 0] for s in seqs])
    if form == "3d":
        return np.stack(seqs)
    if form == "sparse":
        return [sp.csr_matrix(s) for s in seqs]
    if form == "object":
        out = np.empty(len(seqs), dtype=object)
        for i, s in enumerate(seqs):
            out[i] = s
        return out
    return list(seqs)


@st.composite
def spoiled_inputs(draw):
    """(Estimator, X, y, form, problem): valid data spoiled in one known way."""
    form = draw(st.sampled_from(FORMS))
    problem = draw(st.sampled_from(sorted(set(OUTCOMES) - NOT_FOR[form])))
    Estimator = draw(st.sampled_from([RNNClassifier, RNNSequenceRegressor]))
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    n = draw(st.integers(2, 6))
    n_features = 1 if form == "2d" else draw(st.integers(1, 3))
    if form in LIST_FORMS:
        lengths = [draw(st.integers(1, 5)) for _ in range(n)]
    else:
        lengths = [draw(st.integers(1, 5))] * n
    if problem == "no_time_steps":
        lengths = [0] * n
    if problem == "zero_features":
        n_features = 0
    seqs = [rng.standard_normal((length, n_features)) for length in lengths]
    y = np.arange(n) % 2 if Estimator is RNNClassifier else rng.standard_normal(n)
    k = draw(st.integers(0, n - 1))  # the sequence to spoil
    X = spoil(problem, seqs, k, form, rng)
    if problem == "y_too_short":
        y = y[:-1]
    if problem == "y_nan":
        y = y.astype(float)
        y[k] = np.nan
    return Estimator, X, y, form, problem


def spoil(problem, seqs, k, form, rng):
    if problem == "no_samples":
        return [] if form in LIST_FORMS else as_form(seqs, form)[:0]
    if problem == "empty_sequence":
        seqs[k] = seqs[k][:0]
    if problem == "mixed_features":
        seqs[k] = rng.standard_normal((len(seqs[k]), seqs[k].shape[1] + 1))
    if problem == "huge":
        seqs = [s * 1e300 for s in seqs]
    if problem in ("nan", "inf"):
        seqs[k][-1, 0] = np.nan if problem == "nan" else -np.inf
    if problem == "complex":
        seqs[k] = seqs[k] + 1j
    if problem in ("float32", "integers"):
        dtype = np.float32 if problem == "float32" else np.int64
        seqs = [(s * 3).astype(dtype) for s in seqs]
    if problem in ("string", "object_numbers"):
        seqs = [s.astype(object) for s in seqs]
        if problem == "string":
            seqs[k][-1, 0] = "a word"
    if problem == "four_dims" and form in LIST_FORMS:
        seqs[k] = seqs[k][:, :, None]
    X = as_form(seqs, form)
    if problem == "four_dims" and form not in LIST_FORMS:
        X = X.reshape(X.shape + (1,) * (4 - X.ndim))
    if problem == "mixed_sparse":
        X[k] = sp.csr_matrix(X[k]) if form != "sparse" else X[k].toarray()
    return X


@PROPERTY
@given(spoiled_inputs())
def test_each_input_fits_or_raises_a_clear_error(case):
    Estimator, X, y, form, problem = case
    expected = OUTCOMES[problem]
    est = Estimator(cell="gru", **TINY)
    if expected is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        pred = est.predict(X)
        assert pred.shape == (len(y),)
        if Estimator is RNNClassifier:
            assert set(pred) <= {0, 1}
            proba = est.predict_proba(X)
            np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        else:
            assert np.isfinite(pred).all()
        return
    errors, message = expected
    with pytest.raises(errors, match=message):
        est.fit(X, y)


@PROPERTY
@given(spoiled_inputs())
def test_predict_validates_like_fit(case):
    """A model fitted on clean data of the same form rejects spoiled data at
    predict with the same message (targets play no part there)."""
    Estimator, X, y, form, problem = case
    expected = OUTCOMES[problem]
    if expected is None or problem.startswith("y_") or problem == "zero_features":
        return
    rng = np.random.RandomState(0)
    n_features = 1 if form == "2d" else _n_features(X)
    clean = as_form([rng.standard_normal((3, n_features)) for _ in range(4)], form)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = Estimator(**TINY).fit(clean, [0, 1, 0, 1])
    errors, message = expected
    if problem in ("mixed_features", "four_dims"):
        message = r"features|dimensions"
    with pytest.raises(errors, match=message):
        est.predict(X)


def _n_features(X):
    """Features per step of the first well-formed item of a (spoiled) X."""
    shape = np.shape(X[0]) if len(X) else (0, 1)
    return shape[-1] if len(shape) == 2 else 1


@st.composite
def per_step_case(draw):
    lengths = draw(st.lists(st.integers(0, 5), min_size=2, max_size=6))
    lengths[draw(st.integers(0, len(lengths) - 1))] += 1  # not all empty
    target_lengths = list(lengths)
    wrong = draw(st.one_of(st.none(), st.integers(0, len(lengths) - 1)))
    if wrong is not None:
        target_lengths[wrong] += draw(st.sampled_from([-1, 1])) if lengths[wrong] else 1
    drop_one = draw(st.booleans()) and wrong is None
    return lengths, target_lengths, wrong, drop_one


@PROPERTY
@given(per_step_case(), st.sampled_from([RNNClassifier, RNNSequenceRegressor]))
def test_per_step_targets_must_match_each_sequence_length(case, Estimator):
    lengths, target_lengths, wrong, drop_one = case
    rng = np.random.RandomState(len(lengths))
    X = [rng.standard_normal((n, 2)) for n in lengths]
    y = [np.arange(n) % 2 for n in target_lengths]
    if drop_one:
        y = y[:-1]
    est = Estimator(return_sequences=True, **TINY)
    if drop_one:
        with pytest.raises(ValueError, match=f"list of {len(X)} per-step target"):
            est.fit(X, y)
    elif wrong is not None:
        shape = re.escape(f"({lengths[wrong]},)")
        with pytest.raises(ValueError, match=f"sequence {wrong} .*expected {shape}"):
            est.fit(X, y)
    elif Estimator is RNNClassifier and len(set(np.concatenate(y))) < 2:
        with pytest.raises(ValueError, match="at least 2 classes"):
            est.fit(X, y)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pred = est.fit(X, y).predict(X)
        assert [len(p) for p in pred] == lengths


@PROPERTY
@given(classes=st.sets(st.integers(0, 4), min_size=2, max_size=5),
       first=st.lists(st.integers(0, 4), min_size=2, max_size=6),
       second=st.lists(st.integers(0, 4), min_size=1, max_size=6))
def test_partial_fit_rejects_labels_outside_classes(classes, first, second):
    rng = np.random.RandomState(0)
    clf = RNNClassifier(**TINY)

    def call(labels, **kwargs):
        X = rng.standard_normal((len(labels), 3, 2))
        return clf.partial_fit(X, labels, **kwargs)

    unseen = sorted(set(first) - classes)
    if unseen:
        with pytest.raises(ValueError, match=re.escape(f"labels {unseen} not among")):
            call(first, classes=sorted(classes))
        return
    call(first, classes=sorted(classes))
    np.testing.assert_array_equal(clf.classes_, sorted(classes))
    unseen = sorted(set(second) - classes)
    if unseen:
        with pytest.raises(ValueError, match=re.escape(f"labels {unseen} not among")):
            call(second)
        assert clf.n_iter_ == 1  # the rejected call did not train
    else:
        call(second)
        assert clf.n_iter_ == 2


# --------------------------------------------------------- explicit messages
def _seqs(*shapes):
    return [np.ones(shape) for shape in shapes]


BAD_X = {
    "empty list": ([], r"X is an empty list; expected a 2-D array"),
    "four dimensions": (np.ones((4, 3, 2, 1)),
                        r"X has 4 dimensions; expected a 2-D array .*3-D array"),
    "3-D array, 0 features": (np.ones((4, 3, 0)),
                              r"0 features per step; expected \(n_samples"),
    "list, 0 features": (_seqs((3, 0), (2, 0)), r"0 features per step"),
    "sparse, 0 features": ([sp.csr_matrix((3, 0))] * 2, r"0 features per step"),
    "ragged nested list": ([[[1.0, 2.0], [1.0]], [[1.0, 2.0]]],
                           r"Sequence 0 is not a regular 2-D array"),
    "list of 3-D items": (_seqs((2, 3, 2), (2, 3, 2)),
                          r"Sequence 0 has 3 dimensions; each sequence must be 2-D"),
    "list of scalars as arrays": ([np.array(1.0), np.array(2.0)],
                                  r"Sequence 0 has 0 dimensions"),
    "list of None": ([None, None], r"Sequence 0 has 0 dimensions"),
    "features differ": (_seqs((3, 2), (3, 3)), r"sequence 0 has 2 features per "
                        r"step, sequence 1 has 3.*same n_features"),
    "strings in a list": ([np.array([["a", "b"]])] * 2,
                          r"Sequence 0 has dtype <U1 .*must hold numbers"),
    "complex sparse": ([sp.csr_matrix(np.ones((2, 2)) * 1j)] * 2,
                       r"Complex data not supported; sequence 0"),
    "sparse NaN": ([sp.csr_matrix([[np.nan, 1.0]])] * 2,
                   r"Sequence 0 contains NaN or infinity"),
    "one sparse matrix": (sp.csr_matrix(np.ones((4, 3))),
                          r"not a batch of sequences.*list of sparse matrices"),
}


@pytest.mark.parametrize("name", BAD_X)
def test_bad_X_messages_name_the_problem_and_the_expected_form(name):
    X, message = BAD_X[name]
    y = np.arange(len(X) if not sp.issparse(X) else 4) % 2
    with pytest.raises((ValueError, TypeError), match=message):
        RNNClassifier(**TINY).fit(X, y)


def test_a_one_dimensional_item_is_a_univariate_sequence():
    rng = np.random.RandomState(0)
    X = [rng.standard_normal(3), rng.standard_normal((5, 1))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = RNNSequenceRegressor(**TINY).fit(X, [0.0, 1.0])
    np.testing.assert_array_equal(reg.predict(X), reg.predict([x.reshape(-1, 1)
                                                                for x in X]))
    with pytest.raises(ValueError, match="sequence 0 has 1 features per step, "
                                         "sequence 1 has 2"):
        reg.fit([np.ones(3), np.ones((3, 2))], [0.0, 1.0])


@pytest.mark.parametrize("y, message", [
    ([np.ones(0), np.ones(0)], r"every sequence is empty"),
    ([[1, 2, [3]], [1, 2]], r"sequence 0 are invalid .*expected an array of "
                            r"shape \(3,\)"),
    ([np.ones((3, 2, 1)), np.ones((2, 2, 1))],
     r"sequence 0 have shape \(3, 2, 1\); expected \(3,\) or \(3, n_outputs\)"),
    ([np.array([1.0, np.nan, 1.0]), np.ones(2)], r"sequence 0 are invalid .*NaN"),
])
def test_bad_per_step_targets(y, message):
    X = _seqs((3, 1), (2, 1)) if "empty" not in message else _seqs((0, 1), (0, 1))
    with pytest.raises(ValueError, match=message):
        RNNSequenceRegressor(return_sequences=True, **TINY).fit(X, y)


def test_empty_sequences_with_per_step_targets():
    """An empty sequence takes an empty target array and predicts one."""
    X = [np.ones((0, 1)), np.ones((3, 1))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = RNNSequenceRegressor(return_sequences=True, **TINY).fit(
            X, [np.ones(0), np.ones(3)])
        clf = RNNClassifier(return_sequences=True, **TINY).fit(
            X, [np.ones(0), np.array([0, 1, 1])])
    assert [p.shape for p in reg.predict(X)] == [(0,), (3,)]
    assert [p.shape for p in clf.predict_proba(X)] == [(0, 2), (3, 2)]
    with pytest.raises(ValueError, match="every sequence is empty"):
        RNNClassifier(return_sequences=True, solver="lbfgs", **TINY).fit(
            [np.ones((0, 1))] * 2, [np.ones(0)] * 2)


def test_predict_never_returns_silent_nan():
    """Inputs finite but too large for a ReLU network overflow: an error, not NaN."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((20, 4, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = RNNSequenceRegressor(cell="elman", activation="relu", **TINY).fit(
            X, X[:, :, 0].sum(axis=1))
    huge = np.full((2, 4, 2), 1e308)
    with np.errstate(all="ignore"), pytest.raises(ValueError,
                                                  match="not finite.*Scale X"):
        reg.predict(huge)
    assert np.isfinite(reg.predict(X)).all()


# --------------------------------------------------------------- parameters
BAD_PARAMS = [
    ("cell", "rnn"), ("hidden_layer_sizes", "many"), ("hidden_layer_sizes", 0),
    ("activation", "softmax"), ("bidirectional", "yes"), ("clip_norm", 0.0),
    ("clip_norm", -1.0), ("clip_value", 0), ("bptt_truncate", 0), ("init", "zeros"),
    ("solver", "newton"), ("alpha", -1e-4), ("batch_size", 0), ("batch_size", "all"),
    ("learning_rate", "cyclic"), ("learning_rate_init", 0.0), ("power_t", -0.5),
    ("max_iter", 0), ("tol", -1.0), ("momentum", 1.5), ("validation_fraction", 1.0),
    ("beta_1", 1.0), ("beta_2", -0.1), ("epsilon", 0.0), ("n_iter_no_change", 0),
    ("max_fun", 0), ("random_state", "seed"), ("shuffle", None),
]


@pytest.mark.parametrize("Estimator", [RNNClassifier, RNNSequenceRegressor])
@pytest.mark.parametrize("param, value", BAD_PARAMS)
def test_out_of_range_parameters_raise_invalid_parameter_error(Estimator, param,
                                                               value):
    X, y = np.ones((4, 3, 1)), [0, 1, 0, 1]
    est = Estimator(**TINY).set_params(**{param: value})
    with pytest.raises(InvalidParameterError, match=f"'{param}' parameter"):
        est.fit(X, y)


def test_class_weight_parameter_is_validated():
    with pytest.raises(InvalidParameterError, match="'class_weight' parameter"):
        RNNClassifier(class_weight="even", **TINY).fit(np.ones((4, 3)), [0, 1, 0, 1])


@pytest.mark.parametrize("sizes", [(), (0,), (4, -1), (2.5,), [[2]]])
def test_hidden_layer_sizes_items_must_be_positive_ints(sizes):
    with pytest.raises(ValueError, match="non-empty tuple of positive ints"):
        RNNSequenceRegressor(hidden_layer_sizes=sizes, max_iter=1).fit(
            np.ones((4, 3)), np.ones(4))


# ---------------------------------------------- combinations that make no sense
@pytest.mark.parametrize("Estimator", [RNNClassifier, RNNSequenceRegressor])
def test_early_stopping_with_partial_fit_is_an_error(Estimator):
    """As MLPClassifier/MLPRegressor in scikit-learn 1.9: partial_fit sees one
    batch at a time and cannot keep a held-out set, so it refuses."""
    est = Estimator(early_stopping=True, **TINY)
    kwargs = {"classes": [0, 1]} if Estimator is RNNClassifier else {}
    with pytest.raises(ValueError, match="early_stopping=True.*partial_fit"):
        est.partial_fit(np.ones((4, 3, 1)), [0, 1, 0, 1], **kwargs)
    assert not hasattr(est, "n_iter_")


def test_partial_fit_is_not_offered_by_lbfgs():
    est = RNNSequenceRegressor(solver="lbfgs")
    assert not hasattr(est, "partial_fit")
    with pytest.raises(AttributeError) as info:
        est.partial_fit(np.ones((4, 3)), np.ones(4))
    assert "lbfgs" in str(info.value.__cause__)


def test_partial_fit_classes_cannot_change_and_balanced_is_refused():
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((6, 3, 2)), np.array([0, 1, 2, 0, 1, 2])
    clf = RNNClassifier(**TINY).partial_fit(X, y, classes=[2, 1, 0])
    clf.partial_fit(X, y, classes=[0, 1, 2])  # the same set: fine
    with pytest.raises(ValueError, match=r"classes=\[0, 1, 2, 3\] differs from "
                                         r"classes_ \[0, 1, 2\]"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="class_weight='balanced'.*partial_fit"):
        RNNClassifier(class_weight="balanced", **TINY).partial_fit(X, y,
                                                                   classes=[0, 1, 2])


@pytest.mark.parametrize("change", [
    {"cell": "lstm"}, {"hidden_layer_sizes": (3,)}, {"bidirectional": True},
    {"activation": "relu"}, {"return_sequences": True},
])
@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_continuing_training_cannot_change_the_network(change, how):
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((6, 3, 2)), rng.standard_normal(6)
    reg = RNNSequenceRegressor(cell="elman", warm_start=True, **TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
    before = reg.get_weights()
    reg.set_params(**change)
    y_new = [np.ones(3)] * 6 if "return_sequences" in change else y
    with pytest.raises(ValueError, match="changed since the model was fitted.*"
                                         "warm_start=False"):
        getattr(reg, "fit" if how == "warm_start" else how)(X, y_new)
    for name, value in reg.get_weights().items():
        np.testing.assert_array_equal(value, before[name])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clone(reg).set_params(warm_start=False).fit(X, y_new)  # starting anew works


def test_warm_start_fit_uses_the_current_solver_settings():
    """As MLP: a warm-started fit builds its optimizer from the current
    parameters, so a changed solver or learning rate is not silently ignored."""
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((20, 4, 2)), rng.standard_normal(20)
    reg = RNNSequenceRegressor(cell="gru", hidden_layer_sizes=(3,), max_iter=3,
                               warm_start=True, learning_rate_init=0.05,
                               random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y)
        before = reg.get_weights()
        reg.set_params(solver="sgd", learning_rate_init=1e-12, momentum=0.0)
        reg.fit(X, y)
    assert reg.n_iter_ == 6
    for name, value in reg.get_weights().items():
        np.testing.assert_allclose(value, before[name], rtol=0, atol=1e-9)
        assert not np.array_equal(value, before[name]) or name.startswith("bias")


@pytest.mark.parametrize("fraction, n, message", [
    (0.1, 4, "number of classes"), (0.0, 20, "test_size=0"),
])
def test_early_stopping_split_errors_name_early_stopping(fraction, n, message):
    X, y = np.ones((n, 3, 1)), np.arange(n) % 2
    clf = RNNClassifier(early_stopping=True, validation_fraction=fraction, **TINY)
    with pytest.raises(ValueError, match=f"early_stopping=True cannot hold out.*"
                                         f"{message}"):
        clf.fit(X, y)
