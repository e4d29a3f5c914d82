"""The sigmoid gates' pre-activations scaled by ``s`` and the formula for ``s``
(``_activations.logistic_of_prescaled``), on both pairs, whatever the machine.

A machine runs one pair per dtype (the tanh form only for float32 with AVX-512
kernels), so these tests force each pair in turn through the whole engine.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from _engine_helpers import run_engine
from test_activations import LOGISTICS_OF_PRESCALED
from test_network import (
    LENGTHS,
    K,
    directional_errors,
    engine_loss_grad,
    make_problem,
    reference_fn,
)

from sklearn_rnn._core import _activations as act
from sklearn_rnn._core._cells import gate_scale_of, make_cell
from sklearn_rnn._core._network import RecurrentNetwork

PAIR_IDS = ["exp-form", "tanh-form"]


def force_pair(monkeypatch, dtype, pair):
    monkeypatch.setitem(act._LOGISTIC_OF_PRESCALED_BY_DTYPE, np.dtype(dtype), pair)


@pytest.mark.parametrize("pair", LOGISTICS_OF_PRESCALED, ids=PAIR_IDS)
def test_the_cells_scale_by_the_formulas_factor(pair, monkeypatch):
    force_pair(monkeypatch, np.float64, pair)
    s = pair[0]
    lstm = gate_scale_of(make_cell("lstm"), np.float64)
    gru = gate_scale_of(make_cell("gru"), np.float64)
    np.testing.assert_array_equal(lstm.ravel(), [s, s, 2 * s, s])
    np.testing.assert_array_equal(gru.ravel(), [s, s, 1.0])
    assert gate_scale_of(make_cell("elman"), np.float64) is None


CASES = [(cell, layers, bidirectional, k)
         for cell in ("lstm", "gru")
         for layers, bidirectional in ((1, False), (2, True))
         for k in (None, K)]


@pytest.mark.parametrize("pair", LOGISTICS_OF_PRESCALED, ids=PAIR_IDS)
@pytest.mark.parametrize("cell, layers, bidirectional, k", CASES,
                         ids=["-".join(map(str, c)) for c in CASES])
def test_gradient_matches_finite_differences(
    pair, cell, layers, bidirectional, k, monkeypatch
):
    """The finite-difference check of ``test_network`` with the pair forced."""
    force_pair(monkeypatch, np.float64, pair)
    net, flat, seqs, targets, weights, spec = make_problem(
        cell, "tanh", layers, bidirectional, LENGTHS["variable"], k, False, "softmax"
    )
    loss_value, grad = engine_loss_grad(net, flat, seqs, targets, weights, 0.1, k)
    f = reference_fn(net, flat, seqs, targets, weights, 0.1, spec)
    assert loss_value == pytest.approx(f(flat), rel=1e-12)
    errors = directional_errors(net, flat, grad, f, np.random.RandomState(1))
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_both_pairs_give_the_same_model(cell, sparse, dtype, monkeypatch):
    """Loss, gradient and predictions agree between the pairs (to rounding), on
    the LSTM's fused route (dense input) and the projection route (sparse)."""
    rng = np.random.RandomState(0)
    D = 5
    net = RecurrentNetwork(cell, D, (6,), 2, False, "tanh", False, "softmax")
    flat = net.init_params(rng) + 0.3 * rng.standard_normal(net.layout.size)
    seqs = [np.eye(D)[rng.randint(D, size=n)] for n in (6, 4, 4, 1)]
    if sparse:
        seqs = [sp.csr_matrix(s) for s in seqs]
    results = []
    for pair in LOGISTICS_OF_PRESCALED:
        force_pair(monkeypatch, dtype, pair)
        results.append(run_engine(net, flat.astype(dtype), seqs, dtype))
    (loss_a, grad_a, pred_a), (loss_b, grad_b, pred_b) = results
    assert grad_a.dtype == grad_b.dtype == dtype
    tol = {np.float64: 1e-12, np.float32: 1e-5}[dtype]
    assert loss_a == pytest.approx(loss_b, rel=tol)
    np.testing.assert_allclose(grad_a, grad_b, rtol=tol, atol=tol)
    np.testing.assert_allclose(pred_a, pred_b, rtol=tol, atol=tol)


def test_a_factor_that_disagrees_with_the_formula_changes_the_model(monkeypatch):
    """The tests above can fail: the exp form fed the tanh form's factor gives
    another model."""
    rng = np.random.RandomState(0)
    net = RecurrentNetwork("gru", 3, (4,), 2, False, "tanh", False, "softmax")
    flat = net.init_params(rng)
    seqs = [rng.standard_normal((n, 3)) for n in (5, 3)]
    (_, exp_form, exp_gates), _ = LOGISTICS_OF_PRESCALED
    force_pair(monkeypatch, np.float64, (-1.0, exp_form, exp_gates))
    right = run_engine(net, flat, seqs)
    force_pair(monkeypatch, np.float64, (0.5, exp_form, exp_gates))
    wrong = run_engine(net, flat, seqs)
    assert not np.allclose(right[2], wrong[2], rtol=1e-6)
