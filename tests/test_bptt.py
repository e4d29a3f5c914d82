"""Time-loop properties: truncation limits, padding, sparse input, dtypes, memory."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from _engine_helpers import make_batch, make_targets

from sklearn_rnn._core._bptt import batch_sizes_from_lengths, truncation_cuts
from sklearn_rnn._core._network import RecurrentNetwork


def problem(
    cell="lstm",
    bidirectional=False,
    return_sequences=False,
    lengths=(7, 5, 3),
    loss="squared_error",
    dtype=np.float64,
    seed=0,
    layers=(4, 3),
):
    rng = np.random.RandomState(seed)
    net = RecurrentNetwork(
        cell, 2, layers, 2, bidirectional, "tanh", return_sequences, loss
    )
    flat = net.init_params(rng, dtype=dtype)
    seqs = [rng.standard_normal((n, 2)).astype(dtype) for n in lengths]
    if return_sequences:
        targets = [rng.standard_normal((n, 2)) for n in lengths]
    else:
        targets = [rng.standard_normal(2) for _ in lengths]
    return net, flat, seqs, targets


def loss_grad(net, flat, seqs, targets, k=None, weights=None):
    batch, order = make_batch(seqs, dtype=flat.dtype)
    weights = np.ones(len(seqs)) if weights is None else weights
    Y, W = make_targets(targets, order, batch.lengths, net.return_sequences, weights)
    return net.loss_and_grad(
        flat, batch, Y.astype(flat.dtype), W.astype(flat.dtype), bptt_truncate=k
    )


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_truncation_at_or_beyond_length_equals_full_bptt(
    cell, bidirectional, return_sequences
):
    net, flat, seqs, targets = problem(cell, bidirectional, return_sequences)
    full = loss_grad(net, flat, seqs, targets, k=None)
    for k in (7, 8, 100):
        truncated = loss_grad(net, flat, seqs, targets, k=k)
        assert truncated[0] == full[0]
        np.testing.assert_array_equal(truncated[1], full[1])
    shorter = loss_grad(net, flat, seqs, targets, k=2)
    assert not np.allclose(shorter[1], full[1])


def test_seq_to_one_cuts_fall_at_each_sequences_last_k_steps():
    lengths = np.array([9, 9, 6, 4, 2])
    cuts = truncation_cuts(lengths, 9, 3, return_sequences=False, reverse=False)
    assert cuts == {6: slice(0, 2), 3: slice(2, 3), 1: slice(3, 4)}
    rev = truncation_cuts(lengths, 9, 3, return_sequences=False, reverse=True)
    assert rev == {2: slice(None)}
    windows = truncation_cuts(lengths, 9, 4, return_sequences=True, reverse=False)
    assert set(windows) == {4, 8}


def test_batch_sizes_count_running_sequences():
    np.testing.assert_array_equal(
        batch_sizes_from_lengths([5, 3, 3, 1], 5), [4, 3, 3, 1, 1]
    )


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_padding_and_batch_composition_change_nothing(
    cell, bidirectional, return_sequences
):
    """A sequence gives the same outputs alone or padded inside any batch."""
    net, flat, seqs, _ = problem(
        cell, bidirectional, return_sequences, lengths=(3, 11, 6, 1, 6)
    )
    batch, order = make_batch(seqs)
    Z, _ = net.forward(flat, batch)
    for j, i in enumerate(order):
        alone, _ = net.forward(flat, make_batch([seqs[i]])[0])
        got = Z[: len(seqs[i]), j] if return_sequences else Z[j]
        want = alone[:, 0] if return_sequences else alone[0]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
def test_padded_steps_receive_no_gradient(cell):
    """Gradient of a batch = sum of the gradients of its sequences alone."""
    net, flat, seqs, targets = problem(cell, True, True, lengths=(8, 2, 5))
    w = np.array([1.0, 2.0, 0.5])
    steps = np.array([len(s) for s in seqs])
    _, g_batch = loss_grad(net, flat, seqs, targets, weights=w)
    g_sum = sum(
        w[i] * steps[i] * loss_grad(net, flat, [seqs[i]], [targets[i]])[1]
        for i in range(3)
    )
    np.testing.assert_allclose(
        g_batch, g_sum / np.sum(w * steps), rtol=1e-10, atol=1e-14
    )


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
def test_sparse_one_hot_input_equals_dense(cell):
    rng = np.random.RandomState(0)
    net = RecurrentNetwork(cell, 6, (4,), 2, True, "tanh", False, "softmax")
    flat = net.init_params(rng)
    dense = [np.eye(6)[rng.randint(6, size=n)] for n in (5, 3, 4)]
    targets = [np.eye(2)[i % 2] for i in range(3)]
    ld, gd = loss_grad(net, flat, dense, targets)
    ls, gs = loss_grad(net, flat, [sp.csr_matrix(d) for d in dense], targets)
    assert ls == pytest.approx(ld, rel=1e-12)
    np.testing.assert_allclose(gs, gd, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
def test_float32_stays_float32(cell):
    net, flat, seqs, targets = problem(cell, True, False, dtype=np.float32)
    loss, grad = loss_grad(net, flat, seqs, targets, k=2)
    assert flat.dtype == grad.dtype == np.float32
    batch, _ = make_batch(seqs, dtype=np.float32)
    Z, cache = net.forward(flat, batch)
    assert Z.dtype == np.float32
    assert all(tr.h.dtype == np.float32 for layer in cache.traces for tr in layer)
    flat64 = flat.astype(np.float64)
    seqs64 = [s.astype(np.float64) for s in seqs]
    loss64, grad64 = loss_grad(net, flat64, seqs64, targets, k=2)
    assert loss == pytest.approx(loss64, rel=1e-4)
    np.testing.assert_allclose(grad, grad64, rtol=1e-2, atol=1e-4)


def _peak_bytes(fn):
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
def test_truncated_seq_to_one_backward_memory_is_o_of_k(cell):
    rng = np.random.RandomState(0)
    T, B, D, H = 600, 16, 4, 32
    net = RecurrentNetwork(cell, D, (H,), 1)
    flat = net.init_params(rng)
    seqs = [rng.standard_normal((T - i, D)) for i in range(B)]
    batch, order = make_batch(seqs)
    Y, W = np.zeros((B, 1)), np.ones(B)
    X_bytes = batch.X.nbytes

    def run(k):
        return _peak_bytes(
            lambda: net.loss_and_grad(flat, batch, Y, W, bptt_truncate=k)
        )

    full, short = run(None), run(20)
    assert short - X_bytes < 0.15 * (full - X_bytes), (short, full)
