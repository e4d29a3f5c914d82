"""Tests for BagOfWordsSequencer.

scikit-learn's common checks skip string-input estimators, so the checks they would
run (clone, parameters, fit/transform consistency, pickling, not fitted) live here.
"""

import io
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_rnn._text import BagOfWordsSequencer

DOCS = [
    "The cat sat on the mat.",
    "The dog sat on the log.",
    "A cat and a dog met.",
    "",
]
DOC0_TOKENS = ["the", "cat", "sat", "on", "the", "mat"]


def tokens_of(sequencer, sequence):
    names = sequencer.get_feature_names_out()
    return names[sequence.indices].tolist()


def assert_sequences_equal(left, right):
    assert len(left) == len(right)
    for a, b in zip(left, right, strict=True):
        assert a.shape == b.shape
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a.toarray(), b.toarray())


def test_output_is_one_hot_rows_in_document_order():
    sequencer = BagOfWordsSequencer()
    X = sequencer.fit_transform(DOCS)
    assert isinstance(X, list) and len(X) == len(DOCS)
    n_columns = len(sequencer.vocabulary_) + 1
    for sequence in X:
        assert sp.issparse(sequence) and sequence.format == "csr"
        assert sequence.shape[1] == n_columns
        np.testing.assert_array_equal(sequence.sum(axis=1), 1)
    assert tokens_of(sequencer, X[0]) == ["the", "cat", "sat", "on", "the", "mat"]


def test_vocabulary_is_count_vectorizers_shifted_by_one():
    sequencer = BagOfWordsSequencer().fit(DOCS)
    counter = CountVectorizer().fit(DOCS)
    expected = {term: index + 1 for term, index in counter.vocabulary_.items()}
    assert sequencer.vocabulary_ == expected
    assert not sequencer.fixed_vocabulary_
    names = sequencer.get_feature_names_out()
    assert names.dtype == object
    assert names[0] == "<unk>"
    np.testing.assert_array_equal(names[1:], counter.get_feature_names_out())


def test_unseen_words_map_to_unknown_column():
    sequencer = BagOfWordsSequencer().fit(DOCS)
    (sequence,) = sequencer.transform(["the zebra sat quietly"])
    columns = sequence.indices.tolist()
    assert columns[1] == columns[3] == 0
    assert columns[0] == sequencer.vocabulary_["the"]
    assert columns[2] == sequencer.vocabulary_["sat"]


def test_literal_unknown_token_maps_to_unknown_column():
    sequencer = BagOfWordsSequencer(token_pattern=r"\S+").fit(["a <unk> b", "<unk>"])
    assert "<unk>" not in sequencer.vocabulary_
    (sequence,) = sequencer.transform(["<unk> a"])
    assert sequence.indices.tolist() == [0, sequencer.vocabulary_["a"]]


def test_empty_documents_give_zero_row_matrices():
    sequencer = BagOfWordsSequencer(stop_words="english").fit(DOCS)
    n_columns = len(sequencer.get_feature_names_out())
    X = sequencer.transform(["", "!!! ?", "the and a"])
    for sequence in X:
        assert sequence.shape == (0, n_columns)
        assert sp.issparse(sequence)


@pytest.mark.parametrize(
    "truncating, expected",
    [("pre", ["on", "the", "mat"]), ("post", ["the", "cat", "sat"])],
)
def test_max_len_truncation(truncating, expected):
    sequencer = BagOfWordsSequencer(max_len=3, truncating=truncating)
    X = sequencer.fit_transform(DOCS)
    assert tokens_of(sequencer, X[0]) == expected
    assert max(sequence.shape[0] for sequence in X) == 3
    # The vocabulary still comes from whole documents.
    assert "mat" in sequencer.vocabulary_ and "cat" in sequencer.vocabulary_


def test_max_len_longer_than_documents_keeps_everything():
    full = BagOfWordsSequencer().fit_transform(DOCS)
    long = BagOfWordsSequencer(max_len=100).fit_transform(DOCS)
    assert_sequences_equal(full, long)


def test_char_analyzer_yields_single_characters_in_order():
    sequencer = BagOfWordsSequencer(analyzer="char", lowercase=False)
    (sequence,) = sequencer.fit_transform(["abba  Cd"])
    assert "".join(tokens_of(sequencer, sequence)) == "abba Cd"
    assert sorted(sequencer.vocabulary_) == [" ", "C", "a", "b", "d"]


def test_callable_analyzer():
    sequencer = BagOfWordsSequencer(analyzer=str.split)
    (sequence,) = sequencer.fit_transform(["To be or not to be"])
    assert tokens_of(sequencer, sequence) == ["To", "be", "or", "not", "to", "be"]


def test_min_df_prunes_to_unknown():
    sequencer = BagOfWordsSequencer(min_df=2)
    X = sequencer.fit_transform(DOCS)
    assert set(sequencer.vocabulary_) == {"the", "cat", "sat", "on", "dog"}
    assert tokens_of(sequencer, X[0]) == ["the", "cat", "sat", "on", "the", "<unk>"]


def test_max_df_prunes_to_unknown():
    sequencer = BagOfWordsSequencer(max_df=0.4)  # keeps terms of a single document
    X = sequencer.fit_transform(DOCS)
    assert set(sequencer.vocabulary_) == {"mat", "log", "and", "met"}
    assert tokens_of(sequencer, X[0]) == ["<unk>"] * 5 + ["mat"]


def test_max_features_prunes_to_unknown():
    sequencer = BagOfWordsSequencer(max_features=2)
    X = sequencer.fit_transform(DOCS)
    assert len(sequencer.vocabulary_) == 2
    assert X[0].shape == (6, 3)
    assert "the" in sequencer.vocabulary_
    kept = set(sequencer.vocabulary_)
    expected = [token if token in kept else "<unk>" for token in DOC0_TOKENS]
    assert tokens_of(sequencer, X[0]) == expected
    assert "<unk>" in expected


def test_stop_words_vanish():
    sequencer = BagOfWordsSequencer(stop_words=["the", "on"])
    X = sequencer.fit_transform(DOCS)
    assert "the" not in sequencer.vocabulary_
    assert tokens_of(sequencer, X[0]) == ["cat", "sat", "mat"]


@pytest.mark.parametrize(
    "vocabulary", [["sat", "cat", "the"], {"sat": 0, "cat": 1, "the": 2}]
)
def test_given_vocabulary(vocabulary):
    sequencer = BagOfWordsSequencer(vocabulary=vocabulary)
    (sequence,) = sequencer.fit_transform(["The cat sat on the dog"])
    assert sequencer.fixed_vocabulary_
    assert sequencer.vocabulary_ == {"sat": 1, "cat": 2, "the": 3}
    assert sequence.indices.tolist() == [3, 2, 1, 0, 3, 0]
    assert sequencer.get_feature_names_out().tolist() == ["<unk>", "sat", "cat", "the"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, bool])
def test_dtype(dtype):
    X = BagOfWordsSequencer(dtype=dtype).fit_transform(DOCS)
    assert all(sequence.dtype == dtype for sequence in X)


def test_default_dtype_is_float32():
    X = BagOfWordsSequencer().fit_transform(DOCS)
    assert X[0].dtype == np.float32


def test_fit_then_transform_equals_fit_transform():
    fitted = BagOfWordsSequencer(max_len=4).fit(DOCS)
    assert_sequences_equal(
        fitted.transform(DOCS), BagOfWordsSequencer(max_len=4).fit_transform(DOCS)
    )


def test_fit_accepts_generators_and_files():
    from_generator = BagOfWordsSequencer().fit(doc for doc in DOCS)
    from_files = BagOfWordsSequencer(input="file").fit(
        [io.StringIO(doc) for doc in DOCS]
    )
    reference = BagOfWordsSequencer().fit(DOCS)
    assert from_generator.vocabulary_ == reference.vocabulary_
    assert from_files.vocabulary_ == reference.vocabulary_


def test_bytes_documents_are_decoded():
    sequencer = BagOfWordsSequencer().fit(DOCS)
    assert_sequences_equal(
        sequencer.transform([doc.encode() for doc in DOCS]), sequencer.transform(DOCS)
    )


def test_inverse_transform_round_trip():
    sequencer = BagOfWordsSequencer()
    X = sequencer.fit_transform(DOCS + ["the unicorn sat"])
    tokens = sequencer.inverse_transform(X)
    assert tokens[0].tolist() == ["the", "cat", "sat", "on", "the", "mat"]
    assert tokens[3].shape == (0,)
    assert tokens[4].tolist() == ["the", "unicorn", "sat"]
    assert all(np.issubdtype(t.dtype, np.str_) for t in tokens)
    sequencer.fit(DOCS)
    unknown = sequencer.inverse_transform(sequencer.transform(["the unicorn sat"]))
    assert unknown[0].tolist() == ["the", "<unk>", "sat"]


def test_inverse_transform_accepts_dense_scores():
    sequencer = BagOfWordsSequencer().fit(DOCS)
    (sequence,) = sequencer.transform(["the dog sat"])
    scores = sequence.toarray() * 0.9 + 0.01
    assert sequencer.inverse_transform([scores])[0].tolist() == ["the", "dog", "sat"]
    coo = sp.coo_matrix(sequence)
    assert sequencer.inverse_transform([coo])[0].tolist() == ["the", "dog", "sat"]


def test_inverse_transform_rejects_wrong_input():
    sequencer = BagOfWordsSequencer().fit(DOCS)
    X = sequencer.transform(DOCS)
    with pytest.raises(ValueError, match="list of matrices"):
        sequencer.inverse_transform(X[0])
    with pytest.raises(ValueError, match="columns"):
        sequencer.inverse_transform([sp.csr_matrix((2, 3))])


def test_get_feature_names_out_length_matches_columns():
    sequencer = BagOfWordsSequencer()
    X = sequencer.fit_transform(DOCS)
    assert len(sequencer.get_feature_names_out()) == X[0].shape[1]


def test_not_fitted_errors():
    sequencer = BagOfWordsSequencer()
    for method, argument in [
        (sequencer.transform, DOCS),
        (sequencer.inverse_transform, []),
        (sequencer.get_feature_names_out, None),
    ]:
        with pytest.raises(NotFittedError):
            method(argument)


def test_fixed_vocabulary_still_requires_fit():
    with pytest.raises(NotFittedError):
        BagOfWordsSequencer(vocabulary=["cat"]).transform(DOCS)


@pytest.mark.parametrize("method", ["fit", "fit_transform", "transform"])
def test_single_string_raises(method):
    sequencer = BagOfWordsSequencer().fit(DOCS)
    with pytest.raises(ValueError, match="Iterable over raw text documents"):
        getattr(sequencer, method)("the cat sat")


def test_clone_and_params_round_trip():
    sequencer = BagOfWordsSequencer(max_len=5, truncating="post", min_df=2)
    params = sequencer.get_params()
    assert params["max_len"] == 5 and params["truncating"] == "post"
    cloned = clone(sequencer)
    assert cloned is not sequencer
    assert cloned.get_params() == params
    assert not hasattr(cloned, "vocabulary_")
    restored = BagOfWordsSequencer().set_params(**params)
    assert restored.get_params() == params


def test_init_only_stores_arguments():
    sequencer = BagOfWordsSequencer(max_len="nonsense", min_df=-3)
    assert sequencer.max_len == "nonsense" and sequencer.min_df == -3


def test_clone_of_fitted_is_unfitted():
    cloned = clone(BagOfWordsSequencer().fit(DOCS))
    with pytest.raises(NotFittedError):
        cloned.transform(DOCS)


def test_pickle_round_trip_gives_identical_output():
    sequencer = BagOfWordsSequencer(max_len=4, stop_words="english").fit(DOCS)
    restored = pickle.loads(pickle.dumps(sequencer))
    queries = DOCS + ["an unseen elephant"]
    assert_sequences_equal(restored.transform(queries), sequencer.transform(queries))
    np.testing.assert_array_equal(
        restored.get_feature_names_out(), sequencer.get_feature_names_out()
    )


def test_params_changed_after_fit_do_not_change_transform():
    sequencer = BagOfWordsSequencer().fit(DOCS)
    before = sequencer.transform(DOCS)
    sequencer.set_params(lowercase=False)
    assert_sequences_equal(sequencer.transform(DOCS), before)


@pytest.mark.parametrize(
    "params",
    [
        {"analyzer": "char_wb"},
        {"analyzer": "words"},
        {"truncating": "middle"},
        {"max_len": 0},
        {"max_len": 2.5},
        {"min_df": -1},
        {"max_df": 1.5},
        {"max_features": 0},
        {"lowercase": "yes"},
        {"input": "url"},
        {"decode_error": "loud"},
        {"stop_words": "french"},
        {"strip_accents": "latin"},
        {"vocabulary": 3},
    ],
)
def test_invalid_params_raise(params):
    sequencer = BagOfWordsSequencer(**params)
    with pytest.raises(InvalidParameterError):
        sequencer.fit(DOCS)
    with pytest.raises(InvalidParameterError):
        sequencer.fit_transform(DOCS)


def test_errors_from_count_vectorizer_propagate():
    with pytest.raises(ValueError, match="empty vocabulary"):
        BagOfWordsSequencer(stop_words="english").fit(["the and a", ""])
    with pytest.raises(ValueError, match="max_df corresponds to"):
        BagOfWordsSequencer(min_df=3, max_df=1).fit(DOCS)


def test_tags():
    tags = BagOfWordsSequencer().__sklearn_tags__()
    assert tags.input_tags.string
    assert not tags.input_tags.two_d_array
    assert tags.transformer_tags is not None
    assert tags.requires_fit


def test_no_set_output_since_output_is_a_list():
    # As for HashingVectorizer: pandas/polars output cannot hold the sequences.
    assert not hasattr(BagOfWordsSequencer(), "set_output")
