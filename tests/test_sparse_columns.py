"""Sparse input restricted to the columns a batch uses (``_bptt.used_columns``):
the restriction itself, and the engine's loss, gradient and predictions with
it against dense input and against the unrestricted sparse products."""

import numpy as np
import pytest
import scipy.sparse as sp
from _engine_helpers import run_engine

import sklearn_rnn._core._bptt as bptt
from sklearn_rnn._core._network import RecurrentNetwork

D = 40  # input columns, most of them unused by the sequences below


def test_used_columns_keeps_values_and_renumbers_columns():
    # unsorted indices within a row, a duplicate entry, an empty row
    data = np.array([1.0, 2.0, 0.5, 3.0, 4.0])
    indices = np.array([7, 3, 7, 30, 3])
    indptr = np.array([0, 3, 3, 5])
    X = sp.csr_matrix((data, indices, indptr), shape=(3, D))
    columns, X_used = bptt.used_columns(X)
    np.testing.assert_array_equal(columns, [3, 7, 30])
    assert sp.isspmatrix_csr(X_used) and X_used.shape == (3, 3)
    np.testing.assert_array_equal(X_used.toarray(), X.toarray()[:, columns])


def test_used_columns_of_an_empty_matrix():
    columns, X_used = bptt.used_columns(sp.csr_matrix((4, D)))
    assert len(columns) == 0 and X_used.shape == (4, 0)


def _problem(cell, bidirectional, seed=0):
    rng = np.random.RandomState(seed)
    net = RecurrentNetwork(cell, D, (5, 3), 2, bidirectional, "tanh", False,
                           "softmax")
    flat = net.init_params(rng)
    seqs = []
    for n in (6, 2, 4):
        x = np.zeros((n, D))
        # two stored values per step, over a few columns only
        for t in range(n):
            x[t, rng.choice([1, 5, 6, 22, 39], size=2, replace=False)] = rng.randn(2)
        seqs.append(x)
    return net, flat, seqs


def _all_columns(X):
    X = X.tocsr()
    return np.arange(X.shape[1]), X


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("k", [None, 2])
def test_restricted_sparse_input_equals_dense_and_unrestricted(
    cell, bidirectional, k, monkeypatch
):
    net, flat, dense = _problem(cell, bidirectional)
    sparse = [sp.csr_matrix(x) for x in dense]
    loss, grad, pred = run_engine(net, flat, sparse, k=k)
    loss_d, grad_d, pred_d = run_engine(net, flat, dense, k=k)
    assert loss == pytest.approx(loss_d, rel=1e-12)
    np.testing.assert_allclose(grad, grad_d, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(pred, pred_d, rtol=1e-12, atol=1e-15)
    # The gradient of W_ih is exactly zero in the columns no step uses.
    unused = np.setdiff1d(np.arange(D), [1, 5, 6, 22, 39])
    first_layer = net.layers(grad)[0]
    assert len(first_layer) == (2 if bidirectional else 1)
    for direction in first_layer:
        assert not direction.weight_ih[:, unused].any()
        assert direction.weight_ih.any()
    # The same bits as the products over every column.
    monkeypatch.setattr(bptt, "used_columns", _all_columns)
    loss_a, grad_a, pred_a = run_engine(net, flat, sparse, k=k)
    assert loss == loss_a
    np.testing.assert_array_equal(grad, grad_a)
    np.testing.assert_array_equal(pred, pred_a)
