"""The benchmark's lean loop (``benchmarks/_lean.py``) against the engine.

The benchmark reads the lean loop's time as that of the engine's own NumPy
calls, so it must make the same calls: here it must give the engine's
prediction bit for bit, over several batches (states reset between them), with
the activation formulas the engine picks by size and with more than one
projection block, on both routes of a step's gate products (stacked GEMMs,
and one GEMM where the BLAS has two threads: ``_bptt.wide_products``).
"""

import sys
from pathlib import Path

import numpy as np
import pytest
from _engine_helpers import make_batch

import sklearn_rnn._core._bptt as bptt
import sklearn_rnn._core._cells as cells
from sklearn_rnn._core._network import RecurrentNetwork
from sklearn_rnn._core._workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _lean  # noqa: E402
from _lean import lean_pass  # noqa: E402

SIZES = [
    (3, 5, 4, 6),  # B, T, D, H
    # B * H = 16384 values per gate: the float32 tanh takes its exp form; in
    # float64 every cell's projection takes two blocks of steps (at most 64).
    (64, 70, 4, 256),
]


@pytest.mark.parametrize("blas_threads", [1, 2])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
def test_lean_loop_predicts_as_the_engine(cell, dtype, size, blas_threads,
                                          monkeypatch):
    B, T, D, H = size
    # What the route rule reads (the products themselves run as the BLAS is set).
    monkeypatch.setattr(bptt, "blas_threads", lambda: blas_threads)
    # The two routes give the same bits here, so the routes taken are compared.
    engine_routes, lean_routes = [], []
    gate_products, wide_products = cells.gate_products, _lean.wide_products

    def engine_spy(x, W, out):
        engine_routes.append(isinstance(W, cells.WideProduct))
        return gate_products(x, W, out)

    def lean_spy(*args):
        wide = wide_products(*args)
        lean_routes.append(wide)
        return wide

    monkeypatch.setattr(cells, "gate_products", engine_spy)
    monkeypatch.setattr(bptt, "gate_products", engine_spy)
    monkeypatch.setattr(_lean, "wide_products", lean_spy)
    rng = np.random.default_rng(0)
    net = RecurrentNetwork(cell, D, (H,), 3, loss="softmax")
    params = net.init_params(rng, dtype=dtype)
    params += (0.1 * rng.standard_normal(params.shape)).astype(dtype)
    batches = []
    for _ in range(2):
        batch, _ = make_batch(list(rng.standard_normal((B, T, D))), dtype)
        batches.append((batch,))
    ours = [net.predict(params, batch, Workspace()) for batch, in batches]
    lean = lean_pass(cell, net, params, batches)()
    wide = cell != "elman" and blas_threads == 2 and size == SIZES[1]
    assert (engine_routes and all(engine_routes)) if wide else not any(engine_routes)
    assert lean_routes and all(lean_routes) if wide else not any(lean_routes)
    assert len(lean) == 2
    for a, b in zip(ours, lean, strict=True):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(lean[0], lean[1])  # two batches, two predictions
