"""The benchmark's lean loop (``benchmarks/_lean.py``) against the engine.

The benchmark reads the lean loop's time as that of the engine's own NumPy
calls, so it must make the same calls: here it must give the engine's
prediction bit for bit, over several batches (states reset between them), with
the activation formulas the engine picks by size and with more than one
projection block.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
from _engine_helpers import make_batch

from sklearn_rnn._core._network import RecurrentNetwork
from sklearn_rnn._core._workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _lean import lean_pass  # noqa: E402

SIZES = [
    (3, 5, 4, 6),  # B, T, D, H
    # B * H = 16384 values per gate: the float32 tanh takes its exp form; in
    # float64 every cell's projection takes two blocks of steps (at most 64).
    (64, 70, 4, 256),
]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
def test_lean_loop_predicts_as_the_engine(cell, dtype, size):
    B, T, D, H = size
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
    assert len(lean) == 2
    for a, b in zip(ours, lean, strict=True):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(lean[0], lean[1])  # two batches, two predictions
