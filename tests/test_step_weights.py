"""The weights a forward step multiplies by (``_cells.step_weights``,
``_bptt.fused_input_weights``): their values, and their layout, row-major where
``_cells.ROW_MAJOR_STEP_OPERANDS`` says so (benchmarks/README.md, item 28).
Each test runs with both choices for float64, the one this machine makes and
the other."""

import numpy as np
import pytest
import scipy.sparse as sp
from _engine_helpers import run_engine
from test_wide_products import force_wide

import sklearn_rnn._core._bptt as bptt
import sklearn_rnn._core._cells as cells
from sklearn_rnn._core._bptt import (
    fused_input_weights,
    fused_input_weights_side_by_side,
)
from sklearn_rnn._core._cells import WideProduct, step_operand, step_weights
from sklearn_rnn._core._network import RecurrentNetwork

G, H, D, B = 3, 5, 4, 2


@pytest.fixture(params=[True, False], ids=["float64-row-major", "float64-views"])
def float64_row_major(request, monkeypatch):
    """Run a test with float64 step weights made row-major, then left as views
    (float32's are row-major either way)."""
    monkeypatch.setitem(cells.ROW_MAJOR_STEP_OPERANDS, np.dtype(np.float64),
                        request.param)
    return request.param


def _row_major_expected(dtype):
    return cells.ROW_MAJOR_STEP_OPERANDS.get(np.dtype(dtype), True)


def _weights(dtype):
    rng = np.random.default_rng(0)
    W_hh = rng.standard_normal((G * H, H)).astype(dtype)
    b_hh = rng.standard_normal(G * H).astype(dtype)
    scale = np.array([0.5, -1.0, 2.0])[:, None, None]
    return W_hh, b_hh, scale


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_scale", [False, True])
def test_forward_weights_are_scaled_transposes_laid_out_by_dtype(
    dtype, with_scale, float64_row_major
):
    W_hh, b_hh, scale = _weights(dtype)
    factors = scale if with_scale else None
    w = step_weights(W_hh, b_hh, G, factors)
    expected = np.stack([
        W_hh[g * H:(g + 1) * H].T * (scale[g, 0, 0] if with_scale else 1.0)
        for g in range(G)
    ]).astype(dtype)
    assert w.W_T.flags.c_contiguous == _row_major_expected(dtype)
    assert w.W_T.dtype == dtype
    np.testing.assert_array_equal(w.W_T, expected)
    assert w.products is w.W_T
    # The views of the backward pass are left as they are.
    assert np.shares_memory(w.W, W_hh) and w.W_hh is W_hh


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_side_by_side_weights_hold_each_gate(dtype, float64_row_major):
    W_hh, b_hh, scale = _weights(dtype)
    w = step_weights(W_hh, b_hh, G, scale, product=np.empty((B, G * H), dtype))
    assert isinstance(w.products, WideProduct)
    side = w.products.W
    assert side.shape == (H, G * H)
    assert side.flags.c_contiguous == _row_major_expected(dtype)
    for g in range(G):
        np.testing.assert_array_equal(side[:, g * H:(g + 1) * H], w.W_T[g])
    h = np.random.default_rng(1).standard_normal((B, H)).astype(dtype)
    np.testing.assert_allclose(
        (h @ side).reshape(B, G, H).transpose(1, 0, 2), h @ w.W_T,
        rtol=1e-5 if dtype == np.float32 else 1e-12,
    )


def test_backward_weights_build_no_forward_copy():
    W_hh, b_hh, _ = _weights(np.float64)
    w = step_weights(W_hh, b_hh, G, forward=False)
    assert w.W_T is None and w.products is None
    assert w.W_hh is W_hh and np.shares_memory(w.W, W_hh)


def test_fused_input_weights_in_both_forms(float64_row_major):
    W_hh, b_hh, scale = _weights(np.float64)
    rng = np.random.default_rng(2)
    W_x = rng.standard_normal((G, H, D))  # per gate (H, D), as projection_weights
    b_x = rng.standard_normal((G, H))
    w = step_weights(W_hh, b_hh, G, scale, product=np.empty((B, G * H)))
    stacked = fused_input_weights(W_x, b_x, w.W_T)
    side = fused_input_weights_side_by_side(W_x, b_x, w.products.W)
    assert stacked.shape == (G, D + 1 + H, H)
    assert side.shape == (D + 1 + H, G * H)
    assert stacked.flags.c_contiguous == side.flags.c_contiguous == float64_row_major
    for g in range(G):
        block = np.concatenate([W_x[g].T, b_x[g][None], w.W_T[g]])
        np.testing.assert_array_equal(stacked[g], block)
        np.testing.assert_array_equal(side[:, g * H:(g + 1) * H], block)


def test_step_operand_copies_only_what_is_not_row_major(float64_row_major):
    A = np.arange(12.0).reshape(3, 4)
    assert step_operand(A) is A
    A_T = A.T
    T = step_operand(A_T)
    if float64_row_major:
        assert T.flags.c_contiguous and not np.shares_memory(T, A)
        np.testing.assert_array_equal(T, A_T)
    else:
        assert T is A_T
    A32 = A.astype(np.float32)
    assert step_operand(A32.T).flags.c_contiguous  # float32: row-major always


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("wide", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_every_step_of_the_engine_multiplies_weights_laid_out_by_dtype(
    cell, wide, sparse, float64_row_major, monkeypatch
):
    """Whatever the route (stacked or one GEMM, the LSTM's fused input or the
    projection for sparse input), the weights each forward step's product
    reads are laid out as the rule says, and the results are the same
    either way (up to rounding)."""
    routes = force_wide(monkeypatch, on=wide)
    layouts = []
    spying = cells.gate_products  # force_wide's spy, which records the route

    def layout_spy(x, W, out):
        weights = W.W if isinstance(W, WideProduct) else W
        layouts.append(weights.flags.c_contiguous)
        return spying(x, W, out)

    monkeypatch.setattr(cells, "gate_products", layout_spy)
    monkeypatch.setattr(bptt, "gate_products", layout_spy)
    rng = np.random.RandomState(0)
    net = RecurrentNetwork(cell, 4, (6, 5), 2, True, "tanh", False, "softmax")
    flat = net.init_params(rng)
    seqs = [rng.standard_normal((n, 4)) for n in (5, 3, 3)]
    if sparse:
        seqs = [sp.csr_matrix(s) for s in seqs]
    results = run_engine(net, flat, seqs)
    assert layouts and all(layout == float64_row_major for layout in layouts)
    assert routes and all(route == wide for route in routes)
    monkeypatch.setitem(cells.ROW_MAJOR_STEP_OPERANDS, np.dtype(np.float64),
                        not float64_row_major)
    # The same model either way; at these small sizes OpenBLAS's kernels
    # for the two layouts may sum in another order.
    for a, b in zip(results, run_engine(net, flat, seqs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-15)
