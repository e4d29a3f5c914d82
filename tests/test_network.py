"""Gradient checks of the engine against finite differences of a naive reference.

Every cell x activation x {1, 2 layers} x {uni, bidirectional} x {equal, variable
lengths} x {full, truncated} x {sequence-to-one, per-step} x loss is checked.  For
each parameter tensor, the engine's gradient projected on a random direction must
match the central difference of the *reference* loss along that direction (float64,
relative error below 1e-6).  Truncated cases differentiate the truncated graph.
"""

import itertools

import numpy as np
import pytest
from _engine_helpers import make_batch, make_targets
from _reference import reference_loss, reference_outputs

from sklearn_rnn._core._network import RecurrentNetwork

CELLS = [
    ("elman", "tanh"),
    ("elman", "relu"),
    ("elman", "logistic"),
    ("lstm", "tanh"),
    ("gru", "tanh"),
]
LOSSES = ["softmax", "logistic", "squared_error"]
LENGTHS = {"equal": [5, 5, 5], "variable": [6, 4, 2, 5]}
N_FEATURES, N_OUT, K = 2, 3, 2


def make_problem(
    cell, activation, layers, bidirectional, lengths, k, return_sequences, loss, seed=0
):
    rng = np.random.RandomState(seed)
    hidden = (3, 4)[:layers]
    net = RecurrentNetwork(
        cell,
        N_FEATURES,
        hidden,
        N_OUT,
        bidirectional,
        activation,
        return_sequences,
        loss,
    )
    flat = net.init_params(rng)
    flat += 0.3 * rng.standard_normal(flat.size)  # nonzero biases, less symmetry
    seqs = [rng.standard_normal((n, N_FEATURES)) for n in lengths]
    shape = (lambda n: (n, N_OUT)) if return_sequences else (lambda n: (N_OUT,))
    if loss == "softmax":
        targets = [
            np.eye(N_OUT)[rng.randint(N_OUT, size=shape(n)[:-1] or None)]
            for n in lengths
        ]
    elif loss == "logistic":
        targets = [rng.randint(2, size=shape(n)).astype(float) for n in lengths]
    else:
        targets = [rng.standard_normal(shape(n)) for n in lengths]
    weights = rng.uniform(0.5, 2.0, len(lengths))
    spec = dict(
        cell=cell,
        activation=activation,
        hidden=hidden,
        bidirectional=bidirectional,
        return_sequences=return_sequences,
        k=k,
        loss=loss,
    )
    return net, flat, seqs, targets, weights, spec


def engine_loss_grad(net, flat, seqs, targets, weights, alpha, k):
    batch, order = make_batch(seqs)
    Y, W = make_targets(targets, order, batch.lengths, net.return_sequences, weights)
    return net.loss_and_grad(flat, batch, Y, W, alpha=alpha, bptt_truncate=k)


def reference_fn(net, flat, seqs, targets, weights, alpha, spec):
    frozen = {}
    base = dict(net.layout.views(flat))
    reference_loss(spec, base, seqs, targets, weights, alpha, frozen)  # record cuts

    def f(theta):
        return reference_loss(
            spec, net.layout.views(theta), seqs, targets, weights, alpha, frozen
        )

    return f


def directional_errors(net, flat, grad, f, rng, eps=1e-5):
    """Relative error of the gradient projected on a random direction, per tensor.

    A random direction can be nearly orthogonal to the gradient, making the
    projection tiny; the error is then measured against 1% of the largest
    projection possible, ``|g| |v|``, instead.
    """
    errors = {}
    for name, sl in net.layout.slices.items():
        v = np.zeros_like(flat)
        v[sl] = rng.standard_normal(sl.stop - sl.start)
        numeric = (f(flat + eps * v) - f(flat - eps * v)) / (2 * eps)
        analytic = grad @ v
        scale = max(
            abs(numeric),
            abs(analytic),
            1e-2 * np.linalg.norm(grad[sl]) * np.linalg.norm(v),
            1e-10,
        )
        errors[name] = abs(numeric - analytic) / scale
    return errors


GRID = list(
    itertools.product(
        CELLS, [1, 2], [False, True], LENGTHS, [None, K], [False, True], LOSSES
    )
)


@pytest.mark.parametrize(
    "cell_act, layers, bidirectional, lengths, k, return_sequences, loss",
    GRID,
    ids=["-".join(map(str, p)) for p in GRID],
)
def test_gradient_matches_finite_differences(
    cell_act, layers, bidirectional, lengths, k, return_sequences, loss
):
    net, flat, seqs, targets, weights, spec = make_problem(
        *cell_act, layers, bidirectional, LENGTHS[lengths], k, return_sequences, loss
    )
    alpha = 0.1
    loss_value, grad = engine_loss_grad(net, flat, seqs, targets, weights, alpha, k)
    f = reference_fn(net, flat, seqs, targets, weights, alpha, spec)
    assert loss_value == pytest.approx(f(flat), rel=1e-12)
    errors = directional_errors(net, flat, grad, f, np.random.RandomState(1))
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("cell, activation", CELLS)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_every_gradient_entry_matches(cell, activation, return_sequences):
    """Coordinate-wise check of the richest configuration."""
    net, flat, seqs, targets, weights, spec = make_problem(
        cell, activation, 2, True, LENGTHS["variable"], K, return_sequences, "softmax"
    )
    _, grad = engine_loss_grad(net, flat, seqs, targets, weights, 0.05, K)
    f = reference_fn(net, flat, seqs, targets, weights, 0.05, spec)
    eps = 1e-6
    numeric = np.empty_like(flat)
    for i in range(flat.size):
        e = np.zeros_like(flat)
        e[i] = eps
        numeric[i] = (f(flat + e) - f(flat - e)) / (2 * eps)
    assert np.max(np.abs(numeric - grad)) < 1e-6 * np.max(np.abs(numeric))


@pytest.mark.parametrize("cell, activation", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_batched_forward_equals_stepwise_reference(
    cell, activation, bidirectional, return_sequences
):
    net, flat, seqs, _, _, spec = make_problem(
        cell,
        activation,
        2,
        bidirectional,
        LENGTHS["variable"],
        None,
        return_sequences,
        "squared_error",
    )
    batch, order = make_batch(seqs)
    Z, _ = net.forward(flat, batch)
    P = net.layout.views(flat)
    for j, i in enumerate(order):
        expected = reference_outputs(spec, P, seqs[i], {}, (i,))
        got = Z[: len(seqs[i]), j] if return_sequences else Z[j]
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
