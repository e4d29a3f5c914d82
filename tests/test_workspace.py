"""Scratch memory lent from step to step gives the same numbers as fresh memory.

The workspace hands out the same buffers again after every reset, so an array the
engine forgets to zero, or one that a later request overwrites while it is still
in use, shows up here: every step runs on buffers filled with NaN by the step
before, on batches whose shapes change from step to step, and must match a step
on fresh memory bit for bit.
"""

import itertools
import os
import time

import numpy as np
import pytest
from _engine_helpers import make_batch, make_targets

from sklearn_rnn._core._network import RecurrentNetwork
from sklearn_rnn._core._workspace import Workspace

N_FEATURES, N_OUT = 3, 2
# Lengths per step: a long batch, then shorter and narrower ones, equal and
# variable lengths mixed, so reused buffers are bigger than needed and hold
# the previous step's (here: NaN) contents in the rows a step must not read.
BATCHES = [[7, 7, 7, 7, 7], [5, 3, 3, 1], [4, 4, 4], [6, 2, 5, 1, 3, 2], [2]]


def poison(workspace):
    """Fill every buffer the workspace holds with NaN bit patterns."""
    for buffer in workspace._buffers:
        if buffer is not None:
            buffer.fill(0xFF)


def problem(cell, layers, bidirectional, return_sequences, loss, seed=0):
    rng = np.random.RandomState(seed)
    net = RecurrentNetwork(cell, N_FEATURES, (4, 3)[:layers], N_OUT, bidirectional,
                           "tanh", return_sequences, loss)
    flat = net.init_params(rng)
    flat += 0.3 * rng.standard_normal(flat.size)
    steps = []
    for lengths in BATCHES:
        seqs = [rng.standard_normal((n, N_FEATURES)) for n in lengths]
        shape = (lambda n: (n, N_OUT)) if return_sequences else (lambda n: (N_OUT,))
        targets = [rng.standard_normal(shape(n)) for n in lengths]
        if loss == "softmax":
            targets = [np.eye(N_OUT)[np.argmax(t, axis=-1)] for t in targets]
        batch, order = make_batch(seqs)
        Y, W = make_targets(targets, order, batch.lengths, return_sequences,
                            rng.uniform(0.5, 2.0, len(lengths)))
        steps.append((batch, Y, W))
    return net, flat, steps


CASES = list(itertools.product(
    ["elman", "lstm", "gru"],
    [1, 2],  # layers
    [False, True],  # bidirectional
    [False, True],  # return_sequences
))


@pytest.mark.parametrize("cell, layers, bidirectional, return_sequences", CASES)
@pytest.mark.parametrize("k", [None, 2])
def test_loss_and_grad_on_reused_memory_matches_fresh_memory(
    cell, layers, bidirectional, return_sequences, k
):
    loss = "squared_error" if return_sequences else "softmax"
    net, flat, steps = problem(cell, layers, bidirectional, return_sequences, loss)
    workspace = Workspace()
    for batch, Y, W in steps + steps:
        expected = net.loss_and_grad(flat, batch, Y, W, alpha=0.1, bptt_truncate=k)
        poison(workspace)
        got = net.loss_and_grad(flat, batch, Y, W, alpha=0.1, bptt_truncate=k,
                                workspace=workspace)
        assert got[0] == expected[0]
        np.testing.assert_array_equal(got[1], expected[1])
    assert workspace.nbytes > 0  # the workspace was used


@pytest.mark.parametrize("cell, layers, bidirectional, return_sequences", CASES)
def test_predict_on_reused_memory_matches_fresh_memory(
    cell, layers, bidirectional, return_sequences
):
    net, flat, steps = problem(cell, layers, bidirectional, return_sequences,
                               "squared_error")
    workspace = Workspace()
    for batch, _, _ in steps + steps:
        expected = net.predict(flat, batch)
        poison(workspace)
        np.testing.assert_array_equal(net.predict(flat, batch, workspace), expected)


def test_outputs_and_gradients_are_never_workspace_memory():
    net, flat, steps = problem("lstm", 2, True, True, "squared_error")
    workspace = Workspace()
    batch, Y, W = steps[0]
    loss, grad = net.loss_and_grad(flat, batch, Y, W, workspace=workspace)
    P = net.predict(flat, batch, workspace)
    for buffer in workspace._buffers:
        assert not np.shares_memory(grad, buffer)
        assert not np.shares_memory(P, buffer)


def test_truncated_prefix_reuses_one_chunk_of_memory():
    """With bptt_truncate=k the untrained prefix runs in chunks of k steps; the
    chunks share buffers, so the workspace does not grow with the length."""
    rng = np.random.RandomState(0)
    net = RecurrentNetwork("lstm", N_FEATURES, (8,), N_OUT, loss="squared_error")
    flat = net.init_params(rng)
    held = []
    for T in (100, 400):
        seqs = [rng.standard_normal((T, N_FEATURES)) for _ in range(4)]
        batch, order = make_batch(seqs)
        Y, W = make_targets([rng.standard_normal(N_OUT) for _ in seqs], order,
                            batch.lengths, False, np.ones(4))
        workspace = Workspace()
        net.loss_and_grad(flat, batch, Y, W, bptt_truncate=10, workspace=workspace)
        held.append(workspace.nbytes)
    # The inputs' projection of a chunk is held once, not once per chunk.
    assert held[1] == held[0]


@pytest.mark.parametrize("cell, layers, bidirectional, return_sequences", CASES)
def test_prediction_projects_in_blocks_of_steps_as_one_block(
    monkeypatch, cell, layers, bidirectional, return_sequences
):
    """Prediction computes the input projection a block of steps at a time; with
    blocks of 2 steps (sequences of up to 7, so up to 4 blocks, the last one
    partial, forward and reverse) the outputs match one block over the whole
    sequence."""
    from sklearn_rnn._core import _bptt

    net, flat, steps = problem(cell, layers, bidirectional, return_sequences,
                               "squared_error")
    for batch, _, _ in steps:
        monkeypatch.setattr(_bptt, "PROJECTION_BLOCK_BYTES", 2**40)
        expected = net.predict(flat, batch)
        step_bytes = net.cell.n_gates * batch.n_sequences * 4 * flat.itemsize
        monkeypatch.setattr(_bptt, "PROJECTION_BLOCK_BYTES", 2 * step_bytes)
        got = net.predict(flat, batch, Workspace())
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_prediction_memory_holds_one_projection_block(monkeypatch):
    """Prediction keeps the hidden states (the outputs) and one block of the input
    projection, not the projection of the whole sequence (4x the states for an
    LSTM)."""
    rng = np.random.RandomState(0)
    from sklearn_rnn._core import _bptt

    T, B, H = 160, 4, 8
    net = RecurrentNetwork("lstm", N_FEATURES, (H,), N_OUT, loss="squared_error")
    monkeypatch.setattr(_bptt, "PROJECTION_BLOCK_BYTES", 16 * 4 * B * H * 8)
    flat = net.init_params(rng)
    batch, _ = make_batch([rng.standard_normal((T, N_FEATURES)) for _ in range(B)])
    workspace = Workspace()
    net.predict(flat, batch, workspace)
    states = (T + 1) * B * H * flat.itemsize
    assert states <= workspace.nbytes < 2 * states


def fitted_classifier(cell, hidden, n_sequences, max_length):
    """``(clf, X)``: a classifier fitted for two epochs on ``n_sequences``
    random sequences of 2 to ``max_length - 1`` steps, three classes."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from sklearn_rnn import RNNClassifier

    rng = np.random.RandomState(0)
    lengths = rng.randint(2, max_length, size=n_sequences)
    X = [rng.standard_normal((int(n), 3)) for n in lengths]
    y = np.arange(n_sequences) % 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = RNNClassifier(cell=cell, hidden_layer_sizes=(hidden,), max_iter=2,
                            random_state=0).fit(X, y)
    return clf, X


def test_concurrent_predictions_do_not_share_scratch_memory():
    """Each predict call owns its workspace: threads predicting with one fitted
    estimator at once get exactly the serial probabilities."""
    import threading

    clf, X = fitted_classifier("lstm", 16, n_sequences=120, max_length=30)
    parts = [X[: 40 * (i + 1)] for i in range(3)]  # different batch shapes
    expected = [clf.predict_proba(part) for part in parts]
    same = []

    def predict_many(i):
        for _ in range(10):
            same.append(np.array_equal(clf.predict_proba(parts[i]), expected[i]))

    threads = [threading.Thread(target=predict_many, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert same == [True] * 30


def test_steps_with_and_without_a_truncated_prefix_share_the_main_arrays():
    """Only batches whose sequences are all longer than k run a truncated prefix;
    its chunks take their memory aside, so the rest of the step keeps the same
    buffers whether or not a prefix ran (no second copy of the traces)."""
    rng = np.random.RandomState(0)
    net = RecurrentNetwork("gru", N_FEATURES, (8,), N_OUT, loss="squared_error")
    flat = net.init_params(rng)

    def step(lengths, workspace):
        batch, order = make_batch([rng.standard_normal((n, N_FEATURES))
                                   for n in lengths])
        Y, W = make_targets([rng.standard_normal(N_OUT) for _ in lengths], order,
                            batch.lengths, False, np.ones(len(lengths)))
        net.loss_and_grad(flat, batch, Y, W, bptt_truncate=5, workspace=workspace)

    with_prefix, without_prefix = [40, 40, 40, 40], [40, 3, 3, 3]
    alone = {}
    for name, lengths in (("with", with_prefix), ("without", without_prefix)):
        alone[name] = Workspace()
        step(lengths, alone[name])
    both = Workspace()
    for lengths in (with_prefix, without_prefix, with_prefix, without_prefix):
        step(lengths, both)
    # The prefix's chunks aside, the main arrays are those of the longer step.
    assert both.nbytes == alone["with"]._side.nbytes + alone["without"].nbytes


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("k", [None, 20])
def test_lent_memory_costs_no_extra_peak(cell, k):
    """A step on a workspace peaks at the memory of a step on fresh arrays: the
    dead input projection becomes the gate gradients, and the truncated prefix's
    chunks become the rest of the step's arrays."""
    import tracemalloc

    rng = np.random.RandomState(0)
    T, B, H = 200, 8, 16
    net = RecurrentNetwork(cell, N_FEATURES, (H,), N_OUT, loss="squared_error")
    flat = net.init_params(rng)
    batch, order = make_batch([rng.standard_normal((T, N_FEATURES)) for _ in range(B)])
    Y, W = make_targets([rng.standard_normal(N_OUT) for _ in range(B)], order,
                        batch.lengths, False, np.ones(B))

    def peak(workspace):
        tracemalloc.start()
        base, _ = tracemalloc.get_traced_memory()
        net.loss_and_grad(flat, batch, Y, W, bptt_truncate=k, workspace=workspace)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top - base

    fresh = peak(None)
    assert peak(Workspace()) <= 1.05 * fresh


# ---------------------------------------------------------- kept between calls
@pytest.fixture
def no_idle(monkeypatch):
    """The module's idle workspaces, emptied for one test (and restored)."""
    from sklearn_rnn._core import _workspace

    monkeypatch.setattr(_workspace, "_idle", [])
    return _workspace


def test_a_call_gets_the_workspace_the_call_before_it_gave_back(no_idle):
    with no_idle.borrowed_workspace() as first:
        first.empty((100, 10), np.float64)
        first.recycle(first.empty((5,), np.float64))
    with no_idle.borrowed_workspace() as second:
        assert second is first
        assert second.mark() == 0 and not second._dead  # handed out reset
        # the same buffer again: no new memory
        assert second.empty((100, 10), np.float64).base is first._buffers[0]


def test_calls_at_once_never_share_and_at_most_keep_count_are_kept(no_idle):
    with no_idle.borrowed_workspace() as a:
        with no_idle.borrowed_workspace() as b:
            with no_idle.borrowed_workspace() as c:
                assert len({id(a), id(b), id(c)}) == 3
    assert len(no_idle._idle) == no_idle.KEEP_COUNT == 2


def test_threads_borrowing_at_once_get_distinct_workspaces(no_idle):
    import threading

    barrier = threading.Barrier(4)
    held = []

    def borrow():
        with no_idle.borrowed_workspace() as workspace:
            held.append(workspace)
            barrier.wait(timeout=10)  # all four hold theirs at once

    threads = [threading.Thread(target=borrow) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(w) for w in held}) == 4
    assert len(no_idle._idle) == 2


def test_a_big_workspace_or_one_from_a_failed_call_is_not_kept(no_idle, monkeypatch):
    monkeypatch.setattr(no_idle, "KEEP_BYTES", 1000)
    with no_idle.borrowed_workspace() as workspace:
        workspace.empty((126,), np.float64)  # 1008 bytes
    assert no_idle._idle == []
    with no_idle.borrowed_workspace() as workspace:
        workspace.empty((125,), np.float64)  # 1000 bytes
    assert no_idle._idle == [workspace]
    with pytest.raises(RuntimeError), no_idle.borrowed_workspace() as failed:
        assert failed is workspace
        raise RuntimeError
    assert no_idle._idle == []


def test_predict_reuses_the_memory_of_the_predict_before(no_idle):
    """An estimator's predictions run on the workspace an earlier call gave
    back, with the same results as on fresh memory (which it is first)."""
    clf, X = fitted_classifier("gru", 8, n_sequences=60, max_length=20)
    no_idle._idle.clear()  # the fit gave its workspace back: start from none
    first = clf.predict_proba(X)
    (kept,) = no_idle._idle
    poison(kept)
    buffers = [id(b) for b in kept._buffers]
    # a smaller batch (the BLAS may round its rows differently), then the same
    np.testing.assert_allclose(clf.predict_proba(X[:45]), first[:45], rtol=1e-12)
    np.testing.assert_array_equal(clf.predict_proba(X), first)
    assert no_idle._idle == [kept] and [id(b) for b in kept._buffers] == buffers


def test_a_forked_child_does_not_inherit_a_held_lock(no_idle, monkeypatch):
    """The lock as another thread of the parent may hold it at a fork: the
    child's own hook replaces it, so borrowing there does not wait forever."""
    import threading

    held = threading.Lock()
    held.acquire()
    monkeypatch.setattr(no_idle, "_idle_lock", held)
    no_idle._after_fork_in_child()
    assert no_idle._idle_lock is not held
    done = []

    def borrow():
        with no_idle.borrowed_workspace():
            done.append(True)

    thread = threading.Thread(target=borrow, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert done == [True]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_borrowing_works_in_a_child_forked_while_the_lock_is_held(no_idle):
    with no_idle._idle_lock:  # as another thread of the parent might hold it
        pid = os.fork()
        if pid == 0:  # the child: borrow, and report through the exit code
            try:
                with no_idle.borrowed_workspace() as workspace:
                    workspace.empty((3,), np.float64)
                os._exit(0)
            except BaseException:
                os._exit(1)
    deadline = time.monotonic() + 20
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung on the workspace lock")
        time.sleep(0.01)
    assert os.waitstatus_to_exitcode(status) == 0
