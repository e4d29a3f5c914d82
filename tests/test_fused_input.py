"""The LSTM's fused input route (one GEMM of ``[x_t, 1, h_{t-1}]`` per step,
``_bptt.fused_input_weights``) against the input projection before the loop."""

import numpy as np
import pytest
from _engine_helpers import make_batch, make_targets

import sklearn_rnn._core._bptt as bptt
from sklearn_rnn._core._cells import LSTMCell
from sklearn_rnn._core._network import RecurrentNetwork
from sklearn_rnn._core._workspace import Workspace


def _loss_grad_and_prediction(net, flat, seqs, k=None):
    batch, order = make_batch(seqs)
    targets = [np.eye(2)[i % 2] for i in range(len(seqs))]
    Y, W = make_targets(targets, order, batch.lengths, False, np.ones(len(seqs)))
    loss, grad = net.loss_and_grad(flat, batch, Y, W, bptt_truncate=k,
                                   workspace=Workspace())
    return loss, grad, net.predict(flat, batch, Workspace())


def _projection_calls(monkeypatch):
    calls = []
    original = bptt.input_projection

    def counting(*args, **kwargs):
        calls.append(args[0].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(bptt, "input_projection", counting)
    return calls


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("k", [None, 2])
def test_fused_route_equals_the_projection_route(bidirectional, k, monkeypatch):
    rng = np.random.RandomState(0)
    net = RecurrentNetwork("lstm", 3, (5, 4), 2, bidirectional, "tanh", False,
                           "softmax")
    flat = net.init_params(rng)
    seqs = [rng.standard_normal((n, 3)) for n in (7, 6, 6, 2, 0)]
    calls = _projection_calls(monkeypatch)
    fused = _loss_grad_and_prediction(net, flat, seqs, k)
    assert calls == []  # every layer took the fused route
    monkeypatch.setattr(LSTMCell, "fused_input", False)
    apart = _loss_grad_and_prediction(net, flat, seqs, k)
    assert calls  # and now the projection
    assert fused[0] == pytest.approx(apart[0], rel=1e-13)
    np.testing.assert_allclose(fused[1], apart[1], rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(fused[2], apart[2], rtol=1e-12, atol=1e-15)
    assert np.any(fused[1] != 0)


def test_wide_input_keeps_the_projection(monkeypatch):
    """Rows ``[x_t, 1, h]`` wider than the four gates would take more memory
    than the projection whose place they take: the projection stays."""
    rng = np.random.RandomState(0)
    H, D = 2, 6  # D + 1 + H = 9 > 4 H = 8
    net = RecurrentNetwork("lstm", D, (H,), 2, False, "tanh", False, "softmax")
    flat = net.init_params(rng)
    calls = _projection_calls(monkeypatch)
    _loss_grad_and_prediction(net, flat, [rng.standard_normal((4, D))] * 3)
    assert calls
