"""Raw text to one-hot token sequences, built on scikit-learn's ``CountVectorizer``.

Tokenisation (``build_analyzer``) and vocabulary building (``min_df``, ``max_df``,
``max_features``, ``vocabulary``) are delegated to ``CountVectorizer`` unchanged;
this module only maps each document's tokens, in order, to column indices and wraps
them as one CSR matrix per document.
"""

from itertools import repeat
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from ._base import VersionedPickleMixin

UNKNOWN_TOKEN = "<unk>"

_ANALYZER_PARAMS = (
    "input",
    "encoding",
    "decode_error",
    "strip_accents",
    "lowercase",
    "preprocessor",
    "tokenizer",
    "stop_words",
    "token_pattern",
    "analyzer",
)
_VOCABULARY_PARAMS = ("max_df", "min_df", "max_features", "vocabulary")


def _keep_last(tokens, max_len):
    return tokens[-max_len:]


def _keep_first(tokens, max_len):
    return tokens[:max_len]


TRUNCATIONS = {"pre": _keep_last, "post": _keep_first}


def _identity(tokens):
    """Analyzer for already tokenised documents (module level, so it pickles)."""
    return tokens


def _argmax_rows(sequence):
    """Column of the largest entry of every row, fast for one-hot CSR rows."""
    if (
        sp.issparse(sequence)
        and np.array_equal(sequence.indptr, np.arange(sequence.shape[0] + 1))
        and np.all(sequence.data > 0)
    ):
        return sequence.indices
    return np.asarray(sequence.argmax(axis=1)).ravel()


def _check_raw_documents(raw_documents):
    if isinstance(raw_documents, str | bytes):
        raise ValueError(
            "Iterable over raw text documents expected, string object received."
        )


class BagOfWordsSequencer(
    VersionedPickleMixin, TransformerMixin, BaseEstimator, auto_wrap_output_keys=None
):
    """Turn raw documents into sequences of one-hot token rows.

    Each document becomes a sparse matrix with one row per token, in document
    order, holding a single 1 in that token's column. Tokenisation and vocabulary
    building are scikit-learn's :class:`~sklearn.feature_extraction.text.
    CountVectorizer`, so the parameters shared with it mean exactly the same.
    Column 0 is reserved for unknown tokens, ``"<unk>"``.

    Parameters
    ----------
    input : {"content", "filename", "file"}, default="content"
        What the items of ``raw_documents`` are: the text itself, file names to
        read, or file objects with a ``read`` method.

    encoding : str, default="utf-8"
        Encoding used to decode bytes or files.

    decode_error : {"strict", "ignore", "replace"}, default="strict"
        What to do with bytes that are invalid in ``encoding``.

    strip_accents : {"ascii", "unicode"} or callable, default=None
        Remove accents during preprocessing, as in ``CountVectorizer``.

    lowercase : bool, default=True
        Convert all characters to lowercase before tokenising.

    preprocessor : callable, default=None
        Override the preprocessing (string transformation) stage while keeping the
        tokenising stage. Ignored when ``analyzer`` is callable.

    tokenizer : callable, default=None
        Override the tokenising stage; only used when ``analyzer="word"``.

    stop_words : {"english"}, list or None, default=None
        Words removed by the word analyzer. Stop words *vanish* from the
        sequences; they are not mapped to ``"<unk>"``. Only used when
        ``analyzer="word"``.

    token_pattern : str or None, default=r"(?u)\\b\\w\\w+\\b"
        Regular expression of what a token is; only used when ``analyzer="word"``
        and ``tokenizer`` is None.

    analyzer : {"word", "char"} or callable, default="word"
        ``"word"`` yields word tokens; ``"char"`` yields single characters (after
        ``CountVectorizer``'s normalisation of runs of white space to one space),
        for character-level models. A callable maps a decoded document to its
        sequence of tokens.

    max_df : float in [0.0, 1.0] or int, default=1.0
        Ignore terms with a document frequency above this (a proportion when
        float, a count when int). Ignored terms map to ``"<unk>"``.

    min_df : float in [0.0, 1.0] or int, default=1
        Ignore terms with a document frequency below this (a proportion when
        float, a count when int). Ignored terms map to ``"<unk>"``.

    max_features : int, default=None
        Keep only the ``max_features`` most frequent terms; the others map to
        ``"<unk>"``. The output then has ``max_features + 1`` columns.

    vocabulary : Mapping or iterable, default=None
        A fixed vocabulary, as in ``CountVectorizer``: a mapping from terms to
        indices ``0..n-1`` or an iterable of terms. Every term is shifted one
        column to the right to make room for ``"<unk>"``.

    dtype : dtype, default=np.float32
        Type of the matrices' values.

    max_len : int, default=None
        Keep at most this many tokens per document; None keeps all of them.

    truncating : {"pre", "post"}, default="pre"
        Which tokens to drop from documents longer than ``max_len``: ``"pre"``
        drops from the start and keeps the end (Keras' convention, the end being
        nearest to the last step an RNN classifier reads); ``"post"`` drops from
        the end.

    Attributes
    ----------
    vocabulary_ : dict
        A mapping from terms to column indices, all ``>= 1``.

    fixed_vocabulary_ : bool
        True when ``vocabulary`` was given.

    See Also
    --------
    sklearn.feature_extraction.text.CountVectorizer : The same tokens counted into
        one bag-of-words row per document.

    Notes
    -----
    ``transform`` returns a list with one :class:`scipy.sparse.csr_matrix` of
    shape ``(n_tokens_i, n_columns)`` per document, where
    ``n_columns = len(vocabulary_) + 1``. Row ``t`` holds a single 1 in the column
    of token ``t``, or in column 0 (``"<unk>"``) when that token is not in the
    vocabulary: unseen at ``fit``, or pruned by ``min_df``, ``max_df`` or
    ``max_features``. A token spelled ``"<unk>"`` itself (as in pre-processed
    corpora such as the Penn Treebank) maps to column 0 too. Stop words are
    removed by the analyzer and leave no row.

    A document without tokens (empty, or only stop words, or only punctuation
    for the word analyzer) becomes a matrix of shape ``(0, n_columns)``: a
    sequence of length zero. The recurrent estimators accept it in ``fit`` and
    ``predict`` and read it as their zero initial state, so every empty document
    gets the same prediction, from the output layer's bias alone. To let a model
    learn what an empty document means, map such documents to a placeholder word
    before the sequencer.

    The vocabulary is built from whole documents; ``max_len`` shortens only the
    output. Storage per document is ``O(n_tokens_i)``, never
    ``O(n_tokens_i * n_columns)``.

    Examples
    --------
    >>> from sklearn_rnn import BagOfWordsSequencer
    >>> docs = ["The cat sat.", "The dog sat down."]
    >>> sequencer = BagOfWordsSequencer().fit(docs)
    >>> sequencer.get_feature_names_out()
    array(['<unk>', 'cat', 'dog', 'down', 'sat', 'the'], dtype=object)
    >>> X = sequencer.transform(["the bird sat", ""])
    >>> X[0].shape, X[1].shape
    ((3, 6), (0, 6))
    >>> X[0].indices
    array([5, 0, 4], dtype=int32)
    >>> sequencer.inverse_transform(X)[0]
    array(['the', '<unk>', 'sat'], dtype='<U5')
    """

    _parameter_constraints: dict = {
        **{
            name: CountVectorizer._parameter_constraints[name]
            for name in _ANALYZER_PARAMS + _VOCABULARY_PARAMS
        },
        "analyzer": [StrOptions({"word", "char"}), callable],
        "dtype": "no_validation",  # delegated to NumPy, as in CountVectorizer
        "max_len": [Interval(Integral, 1, None, closed="left"), None],
        "truncating": [StrOptions(set(TRUNCATIONS))],
    }

    def __init__(
        self,
        *,
        input="content",
        encoding="utf-8",
        decode_error="strict",
        strip_accents=None,
        lowercase=True,
        preprocessor=None,
        tokenizer=None,
        stop_words=None,
        token_pattern=r"(?u)\b\w\w+\b",
        analyzer="word",
        max_df=1.0,
        min_df=1,
        max_features=None,
        vocabulary=None,
        dtype=np.float32,
        max_len=None,
        truncating="pre",
    ):
        self.input = input
        self.encoding = encoding
        self.decode_error = decode_error
        self.strip_accents = strip_accents
        self.lowercase = lowercase
        self.preprocessor = preprocessor
        self.tokenizer = tokenizer
        self.stop_words = stop_words
        self.token_pattern = token_pattern
        self.analyzer = analyzer
        self.max_df = max_df
        self.min_df = min_df
        self.max_features = max_features
        self.vocabulary = vocabulary
        self.dtype = dtype
        self.max_len = max_len
        self.truncating = truncating

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, raw_documents, y=None):
        """Learn the vocabulary of the raw documents.

        Parameters
        ----------
        raw_documents : iterable
            An iterable of str, bytes or file objects (see ``input``).

        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted sequencer.
        """
        _check_raw_documents(raw_documents)
        analyze = self._make_analyzer_source().build_analyzer()
        self._fit_vocabulary(map(analyze, raw_documents))
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, raw_documents, y=None):
        """Learn the vocabulary and return the documents' one-hot sequences.

        Equivalent to ``fit(raw_documents).transform(raw_documents)``, with each
        document analysed only once.

        Parameters
        ----------
        raw_documents : iterable
            An iterable of str, bytes or file objects (see ``input``).

        y : None
            Ignored.

        Returns
        -------
        X : list of scipy.sparse.csr_matrix of shape (n_tokens_i, n_columns)
            One one-hot matrix per document.
        """
        _check_raw_documents(raw_documents)
        analyze = self._make_analyzer_source().build_analyzer()
        tokens = [analyze(document) for document in raw_documents]
        self._fit_vocabulary(tokens)
        return [self._encode(document_tokens) for document_tokens in tokens]

    def transform(self, raw_documents):
        """Turn raw documents into one-hot token sequences.

        Parameters
        ----------
        raw_documents : iterable
            An iterable of str, bytes or file objects (see ``input``).

        Returns
        -------
        X : list of scipy.sparse.csr_matrix of shape (n_tokens_i, n_columns)
            One matrix per document, one row per token, in order. A document
            without tokens gives a ``(0, n_columns)`` matrix.
        """
        _check_raw_documents(raw_documents)
        check_is_fitted(self)
        analyze = self._analyzer_source.build_analyzer()
        return [self._encode(analyze(document)) for document in raw_documents]

    def inverse_transform(self, X):
        """Return the tokens of each one-hot sequence.

        Parameters
        ----------
        X : list of {sparse matrix, ndarray} of shape (n_tokens_i, n_columns)
            Sequences as returned by ``transform``. Dense rows of scores (such as
            a language model's per-step probabilities) are decoded by their
            largest entry.

        Returns
        -------
        tokens : list of ndarray of str
            The token of every row, ``"<unk>"`` for column 0.
        """
        check_is_fitted(self)
        if sp.issparse(X) or (isinstance(X, np.ndarray) and X.ndim < 3):
            raise ValueError(
                "inverse_transform expects a list of matrices, one per document, "
                f"got a single {type(X).__name__}."
            )
        return [self._decode(sequence) for sequence in X]

    def get_feature_names_out(self, input_features=None):
        """Get the token of every output column.

        Parameters
        ----------
        input_features : None
            Ignored; present for API consistency.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``"<unk>"`` followed by the vocabulary in column order.
        """
        check_is_fitted(self)
        return self._feature_names.astype(object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags

    def _make_analyzer_source(self):
        """Store and return the ``CountVectorizer`` that tokenises documents."""
        self._analyzer_source = CountVectorizer(
            **{name: getattr(self, name) for name in _ANALYZER_PARAMS},
            ngram_range=(1, 1),
        )
        return self._analyzer_source

    def _fit_vocabulary(self, tokenised_documents):
        """Build ``vocabulary_`` with ``CountVectorizer`` on analysed documents."""
        counter = CountVectorizer(
            analyzer=_identity,
            lowercase=False,
            token_pattern=None,
            **{name: getattr(self, name) for name in _VOCABULARY_PARAMS},
        ).fit(tokenised_documents)
        names = counter.get_feature_names_out()
        terms = [term for term in names if term != UNKNOWN_TOKEN]
        self._feature_names = np.asarray([UNKNOWN_TOKEN, *terms], dtype=str)
        self.vocabulary_ = {term: column for column, term in enumerate(terms, 1)}
        self.fixed_vocabulary_ = counter.fixed_vocabulary_

    def _encode(self, tokens):
        """One-hot CSR matrix of one document's tokens, truncated to ``max_len``."""
        if not isinstance(tokens, list | tuple):
            tokens = list(tokens)
        if self.max_len is not None:
            tokens = TRUNCATIONS[self.truncating](tokens, self.max_len)
        n_tokens = len(tokens)
        columns = np.fromiter(
            map(self.vocabulary_.get, tokens, repeat(0)),
            dtype=np.int32,
            count=n_tokens,
        )
        return sp.csr_matrix(
            (
                np.ones(n_tokens, dtype=self.dtype),
                columns,
                np.arange(n_tokens + 1, dtype=np.int32),
            ),
            shape=(n_tokens, len(self._feature_names)),
        )

    def _decode(self, sequence):
        """Tokens of one sequence, by the largest entry of every row."""
        if sp.issparse(sequence):
            sequence = sequence.tocsr()  # no copy for CSR, which check_array costs
        else:
            sequence = check_array(sequence, ensure_min_samples=0, dtype=None)
        n_columns = len(self._feature_names)
        if sequence.shape[1] != n_columns:
            raise ValueError(
                f"Sequence has {sequence.shape[1]} columns, but this "
                f"BagOfWordsSequencer produces {n_columns}."
            )
        if sequence.shape[0] == 0:
            return self._feature_names[:0]
        return self._feature_names[_argmax_rows(sequence)]
