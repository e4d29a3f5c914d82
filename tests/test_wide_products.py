"""A step's product over all gates as one GEMM (``_bptt.wide_products``)
against the stacked per-gate GEMMs, and the rule that picks it."""

import numpy as np
import pytest
import scipy.sparse as sp
from _engine_helpers import run_engine
from test_network import (
    LENGTHS,
    K,
    directional_errors,
    engine_loss_grad,
    make_problem,
    reference_fn,
)

import sklearn_rnn._core._bptt as bptt
import sklearn_rnn._core._cells as cells
from sklearn_rnn._core._network import RecurrentNetwork


def force_wide(monkeypatch, on=True):
    """Make every multi-gate step take the one-GEMM route (or none take it),
    whatever its size and the BLAS's threads; return the list of the routes
    taken by each ``gate_products`` call (True: one GEMM)."""
    monkeypatch.setattr(bptt, "WIDE_STEP_WORK", 0 if on else np.inf)
    monkeypatch.setattr(bptt, "WIDE_ROWS_PER_UNIT", np.inf)
    monkeypatch.setattr(bptt, "blas_threads", lambda: 2)
    routes = []
    original = cells.gate_products

    def spying(x, W, out):
        routes.append(isinstance(W, cells.WideProduct))
        return original(x, W, out)

    monkeypatch.setattr(cells, "gate_products", spying)
    monkeypatch.setattr(bptt, "gate_products", spying)
    return routes


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("k", [None, 2])
def test_one_gemm_equals_stacked_gemms(cell, sparse, bidirectional, k, monkeypatch):
    rng = np.random.RandomState(0)
    D = 6
    net = RecurrentNetwork(cell, D, (5, 4), 2, bidirectional, "tanh", False,
                           "softmax")
    flat = net.init_params(rng)
    flat += 0.3 * rng.standard_normal(flat.size)
    seqs = [np.eye(D)[rng.randint(D, size=n)] for n in (7, 6, 6, 2, 0)]
    if sparse:  # the LSTM's steps then add the projection instead of fusing it
        seqs = [sp.csr_matrix(s) for s in seqs]
    routes = force_wide(monkeypatch, on=False)
    stacked = run_engine(net, flat, seqs, k=k)
    assert routes and not any(routes)
    routes = force_wide(monkeypatch, on=True)
    wide = run_engine(net, flat, seqs, k=k)
    assert routes and all(routes)
    assert wide[0] == pytest.approx(stacked[0], rel=1e-13)
    np.testing.assert_allclose(wide[1], stacked[1], rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(wide[2], stacked[2], rtol=1e-12, atol=1e-15)
    assert np.any(wide[1] != 0)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_one_gemm_in_float32(cell, monkeypatch):
    rng = np.random.RandomState(1)
    net = RecurrentNetwork(cell, 3, (8,), 2, False, "tanh", False, "softmax")
    flat = net.init_params(rng)
    seqs = [rng.standard_normal((n, 3)) for n in (9, 5, 5, 1)]
    force_wide(monkeypatch, on=False)
    stacked = run_engine(net, flat, seqs)
    routes = force_wide(monkeypatch, on=True)
    wide = run_engine(net, flat.astype(np.float32), seqs, np.float32)
    assert all(routes)
    assert wide[1].dtype == wide[2].dtype == np.float32
    np.testing.assert_allclose(wide[1], stacked[1], rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(wide[2], stacked[2], rtol=1e-5, atol=1e-6)


MULTI_GATE = [(cell, act, layers, bidirectional, k, return_sequences)
              for cell, act in (("lstm", "tanh"), ("gru", "tanh"))
              for layers in (1, 2)
              for bidirectional in (False, True)
              for k in (None, K)
              for return_sequences in (False, True)]


@pytest.mark.parametrize(
    "cell, activation, layers, bidirectional, k, return_sequences", MULTI_GATE,
    ids=["-".join(map(str, p)) for p in MULTI_GATE],
)
def test_one_gemm_gradient_matches_finite_differences(
    cell, activation, layers, bidirectional, k, return_sequences, monkeypatch
):
    """The finite-difference check of ``test_network``, on the one-GEMM route."""
    routes = force_wide(monkeypatch)
    net, flat, seqs, targets, weights, spec = make_problem(
        cell, activation, layers, bidirectional, LENGTHS["variable"], k,
        return_sequences, "softmax",
    )
    loss_value, grad = engine_loss_grad(net, flat, seqs, targets, weights, 0.1, k)
    assert routes and all(routes)
    f = reference_fn(net, flat, seqs, targets, weights, 0.1, spec)
    assert loss_value == pytest.approx(f(flat), rel=1e-12)
    errors = directional_errors(net, flat, grad, f, np.random.RandomState(1))
    assert max(errors.values()) < 1e-6, errors


def test_the_rule(monkeypatch):
    monkeypatch.setattr(bptt, "blas_threads", lambda: 2)
    work = bptt.WIDE_STEP_WORK
    assert bptt.wide_products(4, 64, 161, 128)  # LSTM, fused rows, B=64
    assert bptt.wide_products(3, 64, 128, 128)  # GRU, B=64
    assert not bptt.wide_products(4, 32, 93, 64)  # the small size
    rows = work // (4 * 64 * 64)  # rows x 64 inputs x 4 gates x 64 = the threshold
    assert rows == 64
    assert bptt.wide_products(4, rows, 64, 64)
    assert not bptt.wide_products(4, rows - 1, 64, 64)
    assert not bptt.wide_products(3, 256, 128, 128)  # more rows than units
    assert bptt.wide_products(3, 128, 128, 128)
    assert not bptt.wide_products(1, 128, 256, 256)  # one gate: nothing to join
    monkeypatch.setattr(bptt, "blas_threads", lambda: 1)
    assert not bptt.wide_products(4, 128, 321, 256)  # one BLAS thread: stacked


def test_blas_threads_follows_the_limit():
    from threadpoolctl import threadpool_limits

    from sklearn_rnn._core._blas import blas, blas_threads

    if not blas().lib_controllers:
        pytest.skip("threadpoolctl finds no BLAS library to limit")
    before = blas_threads()
    with threadpool_limits(1, user_api="blas"):
        assert blas_threads() == 1
    assert blas_threads() == before


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_one_gemm_with_no_running_rows(cell, monkeypatch):
    """A batch of empty sequences runs steps with no rows: the one-GEMM route
    must give them the zero state as the stacked route does."""
    from sklearn_rnn import RNNClassifier

    rng = np.random.RandomState(0)
    X = [rng.standard_normal((n, 3)) for n in (4, 2, 3, 5)]
    clf = RNNClassifier(cell=cell, hidden_layer_sizes=(4,), max_iter=3,
                        random_state=0).fit(X, [0, 1, 0, 1])
    empty = [np.zeros((0, 3))] * 3
    force_wide(monkeypatch, on=False)
    stacked = clf.predict_proba(empty + X)
    routes = force_wide(monkeypatch, on=True)
    wide = clf.predict_proba(empty + X)
    assert routes and all(routes)
    np.testing.assert_allclose(wide, stacked, rtol=1e-12)
    assert np.all(wide[:3] == wide[0])  # the zero state's prediction, three times
    routes.clear()
    only_empty = clf.predict_proba(empty)
    assert routes and all(routes)
    np.testing.assert_allclose(only_empty, stacked[:3], rtol=1e-12)
