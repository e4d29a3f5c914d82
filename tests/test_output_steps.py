"""The backward loop adds a sequence-to-one output's gradient only at the steps
where the output is read (``_bptt.output_steps``)."""

import numpy as np
import pytest
from _engine_helpers import make_batch, make_targets

import sklearn_rnn._core._network as network
from sklearn_rnn._core._bptt import output_steps
from sklearn_rnn._core._network import RecurrentNetwork


def test_output_steps_are_each_sequences_last_step_and_step_zero():
    lengths = np.array([6, 6, 4, 1, 0])
    forward, reverse = output_steps(lengths, 2)
    assert forward == {5, 3, 0}  # the empty sequence's output is its h0
    assert reverse == {0}
    assert output_steps(lengths, 1) == [forward]


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("k", [None, 2])
def test_skipping_the_zero_output_gradient_changes_nothing(
    cell, bidirectional, k, monkeypatch
):
    rng = np.random.RandomState(0)
    net = RecurrentNetwork(cell, 3, (4, 3), 2, bidirectional, "tanh", False, "softmax")
    flat = net.init_params(rng)
    lengths = (7, 5, 5, 2, 0)
    seqs = [rng.standard_normal((n, 3)) for n in lengths]
    batch, order = make_batch(seqs)
    Y, W = make_targets(np.eye(2)[[0, 1, 1, 0, 1]], order, batch.lengths, False,
                        np.ones(len(seqs)))

    def run():
        return net.loss_and_grad(flat, batch, Y, W, bptt_truncate=k)

    loss, grad = run()
    # Every step adds the top layer's output gradient, zero or not.
    monkeypatch.setattr(
        network, "output_steps", lambda lengths, n_directions: [None] * n_directions
    )
    dense_loss, dense_grad = run()
    assert loss == dense_loss
    np.testing.assert_array_equal(grad, dense_grad)
    assert np.any(grad != 0)
