"""Test-side construction of engine batches, independent of the estimators."""

import numpy as np
import scipy.sparse as sp

from sklearn_rnn._core._bptt import Batch, batch_sizes_from_lengths
from sklearn_rnn._core._workspace import Workspace


def make_batch(seqs, dtype=np.float64):
    """Sort sequences by decreasing length and pad them time-major.

    Returns the batch and the order used (``order[j]`` is the original index of
    row ``j``).
    """
    lengths = np.array([len(s) if not sp.issparse(s) else s.shape[0] for s in seqs])
    order = np.argsort(-lengths, kind="stable")
    T, B, D = lengths.max(), len(seqs), seqs[0].shape[1]
    if sp.issparse(seqs[0]):
        blocks = [[None] * B for _ in range(T)]
        X = sp.lil_matrix((T * B, D), dtype=dtype)
        for j, i in enumerate(order):
            for t in range(lengths[i]):
                X[t * B + j] = seqs[i][t]
        X = X.tocsr()
        del blocks
    else:
        X = np.zeros((T, B, D), dtype)
        for j, i in enumerate(order):
            X[: lengths[i], j] = seqs[i]
        X = X.reshape(T * B, D)
    sorted_lengths = lengths[order]
    return Batch(X, sorted_lengths, batch_sizes_from_lengths(sorted_lengths, T)), order


def make_targets(targets, order, lengths, return_sequences, weights):
    """Engine-layout targets and weights for ``make_batch``'s order."""
    if not return_sequences:
        return np.array([targets[i] for i in order]), np.asarray(weights)[order]
    T, B = int(lengths.max()), len(order)
    n_out = targets[0].shape[1]
    Y = np.zeros((T, B, n_out))
    W = np.zeros((T, B))
    for j, i in enumerate(order):
        Y[: len(targets[i]), j] = targets[i]
        W[: len(targets[i]), j] = weights[i]
    return Y, W


def run_engine(net, flat, seqs, dtype=np.float64, k=None):
    """Loss, gradient and predictions of a two-class sequence-to-one problem
    on ``seqs`` (class ``i % 2`` for sequence ``i``, unit weights), each call
    with fresh workspaces."""
    batch, order = make_batch(seqs, dtype)
    targets = [np.eye(2)[i % 2] for i in range(len(seqs))]
    Y, W = make_targets(targets, order, batch.lengths, False, np.ones(len(seqs)))
    loss, grad = net.loss_and_grad(flat, batch, Y.astype(dtype), W.astype(dtype),
                                   bptt_truncate=k, workspace=Workspace())
    return loss, grad, net.predict(flat, batch, Workspace())
