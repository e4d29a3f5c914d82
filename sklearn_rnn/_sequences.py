"""The input contract: validate the four forms of X and cut them into batches.

X may be

1. a 2-D array ``(n_samples, n_timesteps)``: univariate sequences;
2. a 3-D array ``(n_samples, n_timesteps, n_features)``;
3. a list (or 1-D object array) of 2-D arrays ``(n_timesteps_i, n_features)``;
4. a list of scipy sparse matrices ``(n_timesteps_i, n_features)``.

All become a ``Sequences`` object, which indexes along samples (for validation
splits) and builds the engine's time-major ``Batch``: sequences sorted by
decreasing length, padded, and for sparse input a CSR matrix whose rows are the
time-major steps, so a one-hot input is never densified.
"""

import numbers

import numpy as np
import scipy.sparse as sp

from ._core._bptt import Batch, batch_sizes_from_lengths

FLOAT_DTYPES = (np.float64, np.float32)

EXPECTED_FORMS = (
    "a 2-D array (n_samples, n_timesteps), a 3-D array (n_samples, n_timesteps, "
    "n_features), or a list of 2-D arrays or sparse matrices (n_timesteps_i, "
    "n_features)"
)


class Sequences:
    """Validated sequences: a padded 3-D array or a list of 2-D arrays/CSR matrices.

    Attributes
    ----------
    data : ndarray of shape (n_samples, n_timesteps, n_features) or list
    lengths : ndarray of shape (n_samples,)
    n_features : int
        Features per time step.
    dtype : numpy dtype
    """

    def __init__(self, data, lengths, n_features, dtype):
        self.data = data
        self.lengths = np.asarray(lengths, dtype=np.intp)
        self.n_features = n_features
        self.dtype = np.dtype(dtype)

    def __len__(self):
        return len(self.lengths)

    @property
    def is_sparse(self):
        data = self.data
        return isinstance(data, list) and len(data) and sp.issparse(data[0])

    def take(self, indices):
        """The sequences at ``indices``, as a new ``Sequences``."""
        if isinstance(self.data, np.ndarray):
            data = self.data[indices]
        else:
            data = [self.data[i] for i in indices]
        return Sequences(data, self.lengths[indices], self.n_features, self.dtype)

    def batch(self, indices):
        """Engine batch of the sequences ``indices``.

        Returns ``(batch, order)``: ``order`` is ``indices`` sorted by decreasing
        length (stable), the order of the batch's rows.
        """
        indices = np.asarray(indices)
        order = indices[np.argsort(-self.lengths[indices], kind="stable")]
        lengths = self.lengths[order]
        n_steps = max(int(lengths[0]), 1)  # an all-empty batch still has one step
        if isinstance(self.data, np.ndarray):
            X = self._dense_from_array(order)
        elif self.is_sparse:
            X = self._sparse_time_major(order, n_steps)
        else:
            X = self._dense_from_list(order, n_steps)
        return Batch(X, lengths, batch_sizes_from_lengths(lengths, n_steps)), order

    def _dense_from_array(self, order):
        X = np.ascontiguousarray(self.data[order].transpose(1, 0, 2))
        return X.reshape(-1, self.n_features)

    def _dense_from_list(self, order, n_steps):
        X = np.zeros((n_steps, len(order), self.n_features), dtype=self.dtype)
        for j, i in enumerate(order):
            X[: self.lengths[i], j] = self.data[i]
        return X.reshape(-1, self.n_features)

    def _sparse_time_major(self, order, n_steps):
        """Stack the CSR sequences: step ``t`` of row ``j`` becomes row ``t*B + j``."""
        B = len(order)
        stacked = sp.vstack([self.data[i] for i in order], format="csr")
        lengths = self.lengths[order]
        row_in_batch = np.repeat(np.arange(B), lengths)
        step = np.arange(len(row_in_batch)) - np.repeat(np.cumsum(lengths) - lengths,
                                                        lengths)
        target = step * B + row_in_batch
        perm = np.empty(n_steps * B, dtype=np.intp)
        # Padding rows point at an empty row appended at the end of ``stacked``.
        perm.fill(stacked.shape[0])
        perm[target] = np.arange(stacked.shape[0])
        padded = sp.vstack([stacked, sp.csr_matrix((1, self.n_features),
                                                   dtype=self.dtype)], format="csr")
        return padded[perm]


def is_sequence_list(X):
    """True for the list forms (3 and 4): a list/tuple or 1-D object array whose
    items are 2-D arrays or sparse matrices, or ragged 1-D sequences."""
    if isinstance(X, np.ndarray):
        return X.dtype == object and X.ndim == 1
    if not isinstance(X, (list, tuple)):
        return False
    if len(X) == 0:
        return True  # rejected with the expected forms by check_sequence_list
    if any(sp.issparse(x) for x in X):
        return True
    if any(isinstance(x, (str, bytes, numbers.Number)) for x in X):
        return False
    ndims = {_ndim(x) for x in X}
    if ndims == {1}:
        return len({len(x) for x in X}) > 1  # ragged univariate sequences
    # Equal-length 1-D rows are the 2-D form; anything else (2-D items, ragged
    # nested lists, mixed dimensions) is checked item by item, with item numbers.
    return True


def _ndim(x):
    try:
        return np.ndim(x)
    except ValueError:  # a ragged nested list
        return -1


def _float_dtype(dtypes):
    return np.float32 if dtypes and all(d == np.float32 for d in dtypes) else np.float64


def check_sequence_list(X, n_features=None):
    """Validate the list forms; returns ``Sequences``.

    Each item must be a 2-D array or sparse matrix of floats (a 1-D item is a
    univariate sequence), all with the same number of features, and finite.
    An empty item (0 steps) is allowed: it reads as the initial zero state.
    """
    items = list(X)
    if len(items) == 0:
        raise ValueError(f"X is an empty list; expected {EXPECTED_FORMS}.")
    n_sparse = sum(sp.issparse(x) for x in items)
    if 0 < n_sparse < len(items):
        raise TypeError(
            "X mixes sparse and dense sequences; pass either all sparse matrices or "
            "all dense arrays, each of shape (n_timesteps_i, n_features)."
        )
    convert = _check_sparse_item if n_sparse else _check_dense_item
    dtype = _float_dtype([getattr(x, "dtype", None) for x in items])
    seqs = [convert(x, i, dtype) for i, x in enumerate(items)]
    widths = {s.shape[1] for s in seqs}
    if len(widths) > 1:
        first = seqs[0].shape[1]
        bad = next(i for i, s in enumerate(seqs) if s.shape[1] != first)
        raise ValueError(
            f"Sequences have inconsistent numbers of features: sequence 0 has "
            f"{first} features per step, sequence {bad} has {seqs[bad].shape[1]}. "
            "Every sequence must have shape (n_timesteps_i, n_features) with the "
            "same n_features."
        )
    width = widths.pop()
    if width == 0:
        raise ValueError(
            "Sequences have 0 features per step; every sequence must have shape "
            "(n_timesteps_i, n_features) with n_features >= 1."
        )
    _check_n_features(width, n_features)
    return Sequences(seqs, [s.shape[0] for s in seqs], width, dtype)


def _check_dense_item(x, i, dtype):
    try:
        arr = np.asarray(x)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"Sequence {i} is not a regular 2-D array: {exc}") from None
    if np.iscomplexobj(arr):
        raise ValueError(f"Complex data not supported; sequence {i} is complex.")
    if arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"Sequence {i} has dtype {arr.dtype} and cannot be converted to "
                "float; sequences must hold numbers."
            ) from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"Sequence {i} has {arr.ndim} dimensions; each sequence must be 2-D "
            "(n_timesteps_i, n_features) or 1-D (n_timesteps_i,) for one feature."
        )
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if not np.isfinite(arr).all():
        raise ValueError(
            f"Sequence {i} contains NaN or infinity; sequences must be finite."
        )
    return arr


def _check_sparse_item(x, i, dtype):
    if np.iscomplexobj(x.data):
        raise ValueError(f"Complex data not supported; sequence {i} is complex.")
    x = sp.csr_matrix(x, dtype=dtype)
    if not np.isfinite(x.data).all():
        raise ValueError(
            f"Sequence {i} contains NaN or infinity; sequences must be finite."
        )
    return x


def _check_n_features(width, expected):
    if expected is not None and width != expected:
        raise ValueError(
            f"X has {width} features per time step, but the model was fitted with "
            f"{expected} features per time step."
        )


def check_3d_array(X, check_array, n_features=None):
    """Validate a 3-D array with scikit-learn's ``check_array`` (passed in)."""
    X = check_array(X, allow_nd=True, dtype=FLOAT_DTYPES, ensure_min_features=1)
    if X.ndim != 3:
        raise ValueError(
            f"X has {X.ndim} dimensions; expected {EXPECTED_FORMS}."
        )
    if X.shape[1] == 0:
        raise ValueError("X has 0 time steps; sequences need at least one step.")
    if X.shape[2] == 0:
        raise ValueError(
            f"X has shape {X.shape} with 0 features per step; expected "
            "(n_samples, n_timesteps, n_features) with n_features >= 1."
        )
    _check_n_features(X.shape[2], n_features)
    return Sequences(X, np.full(X.shape[0], X.shape[1]), X.shape[2], X.dtype)


def univariate(X):
    """A validated 2-D array ``(n_samples, n_timesteps)`` as one-feature sequences."""
    return Sequences(X[:, :, None], np.full(X.shape[0], X.shape[1]), 1, X.dtype)


def check_step_targets(y, lengths, check_array):
    """Validate per-step targets: one array of ``lengths[i]`` rows per sequence."""
    if not isinstance(y, (list, tuple, np.ndarray)) or len(y) != len(lengths):
        n = len(y) if hasattr(y, "__len__") else "no"
        raise ValueError(
            f"With return_sequences=True, y must be a list of {len(lengths)} "
            f"per-step target arrays, one per sequence; got {n} items."
        )
    if len(lengths) and not np.any(lengths):
        raise ValueError(
            "With return_sequences=True every sequence is empty, so y holds no "
            "per-step targets to fit; pass at least one sequence with time steps."
        )
    targets = []
    for i, (target, length) in enumerate(zip(y, lengths, strict=True)):
        try:
            target = check_array(target, ensure_2d=False, dtype=None,
                                 ensure_min_samples=0, allow_nd=True)
        except ValueError as exc:
            raise ValueError(
                f"Per-step targets of sequence {i} are invalid ({exc}); expected an "
                f"array of shape ({length},) or ({length}, n_outputs)."
            ) from None
        if target.ndim not in (1, 2) or target.shape[0] != length:
            raise ValueError(
                f"Per-step targets of sequence {i} have shape {target.shape}; "
                f"expected ({length},) or ({length}, n_outputs), one row per time "
                "step of the sequence."
            )
        targets.append(target)
    return targets
