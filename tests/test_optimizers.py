"""Optimizers and clipping: hand arithmetic, dtypes, scikit-learn's own optimizers."""

import math
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.neural_network import _stochastic_optimizers as sk_optim

from sklearn_rnn._core._optimizers import (
    OPTIMIZERS,
    AdamOptimizer,
    SGDOptimizer,
    clip_gradients,
)

SHAPES = [(3, 4), (4,), (4, 2), (2,)]
N_PARAMS = sum(math.prod(shape) for shape in SHAPES)


def split(flat):
    """The flat vector as scikit-learn's list of weight arrays (copies)."""
    pieces, start = [], 0
    for shape in SHAPES:
        stop = start + math.prod(shape)
        pieces.append(flat[start:stop].reshape(shape).copy())
        start = stop
    return pieces


def join(pieces):
    return np.concatenate([piece.ravel() for piece in pieces])


def random_problem(dtype, n_steps=4, seed=0):
    rng = np.random.RandomState(seed)
    params = rng.standard_normal(N_PARAMS).astype(dtype)
    grads = [rng.standard_normal(N_PARAMS).astype(dtype) for _ in range(n_steps)]
    return params, grads


# --------------------------------------------------------------------------- SGD


@pytest.mark.parametrize(
    "nesterov, expected",
    [(False, [0.9, 0.75, 0.475]), (True, [0.85, 0.675, 0.3375])],
)
def test_sgd_matches_hand_arithmetic(nesterov, expected):
    # lr = 0.1, momentum = 0.5, gradients 1, 1, 2:
    # v: -0.1, -0.15, -0.275;  plain p += v;  Nesterov p += 0.5 * v - 0.1 * g.
    params = np.array([1.0])
    sgd = SGDOptimizer(params, learning_rate_init=0.1, momentum=0.5, nesterov=nesterov)
    for grad, want in zip([1.0, 1.0, 2.0], expected, strict=True):
        sgd.update_params(params, np.array([grad]))
        assert params[0] == pytest.approx(want, abs=1e-15)
    assert sgd.velocity[0] == pytest.approx(-0.275, abs=1e-15)


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_reference_loop(nesterov, momentum):
    params, grads = random_problem(np.float64)
    expected, velocity = params.copy(), np.zeros_like(params)
    sgd = SGDOptimizer(params, 0.05, momentum=momentum, nesterov=nesterov)
    for grad in grads:
        velocity = momentum * velocity - 0.05 * grad
        expected += momentum * velocity - 0.05 * grad if nesterov else velocity
        sgd.update_params(params, grad)
        assert_allclose(params, expected, rtol=1e-13, atol=1e-15)
        assert_allclose(sgd.velocity, velocity, rtol=1e-13, atol=1e-15)


def test_sgd_constant_schedule(capsys):
    sgd = SGDOptimizer(np.zeros(3), learning_rate_init=0.2)
    sgd.iteration_ends(1000)
    assert sgd.learning_rate == 0.2
    assert sgd.trigger_stopping("No improvement.", verbose=False) is True
    assert capsys.readouterr().out == ""
    assert sgd.trigger_stopping("No improvement.", verbose=True) is True
    assert capsys.readouterr().out == "No improvement. Stopping.\n"
    assert sgd.learning_rate == 0.2


def test_sgd_invscaling_schedule():
    params = np.array([1.0])
    sgd = SGDOptimizer(
        params, 0.1, learning_rate="invscaling", momentum=0.0, power_t=0.5
    )
    sgd.update_params(params, np.array([1.0]))
    assert params[0] == pytest.approx(0.9)  # the initial rate before any epoch ends
    sgd.iteration_ends(99)  # 0.1 / (99 + 1) ** 0.5
    assert sgd.learning_rate == pytest.approx(0.01)
    sgd.update_params(params, np.array([1.0]))
    assert params[0] == pytest.approx(0.89)
    sgd.iteration_ends(np.int64(399))  # the estimator's t_ may be a NumPy integer
    assert type(sgd.learning_rate) is float
    assert sgd.learning_rate == pytest.approx(0.005)
    assert sgd.trigger_stopping("msg", verbose=False) is True


def test_sgd_adaptive_schedule(capsys):
    sgd = SGDOptimizer(np.zeros(2), learning_rate_init=0.1, learning_rate="adaptive")
    sgd.iteration_ends(50)
    assert sgd.learning_rate == 0.1
    assert sgd.trigger_stopping("Loss stalled.", verbose=True) is False
    assert sgd.learning_rate == pytest.approx(0.02)
    out = capsys.readouterr().out
    assert out == "Loss stalled. Setting learning rate to 0.020000\n"
    # 0.1 / 5**k stays above 1e-6 for k <= 7, so there are 7 more divisions.
    decisions = [sgd.trigger_stopping("Loss stalled.", verbose=False) for _ in range(7)]
    assert decisions == [False] * 7
    assert sgd.learning_rate == pytest.approx(0.1 / 5**8)
    assert sgd.learning_rate <= 1e-6
    assert sgd.trigger_stopping("Loss stalled.", verbose=True) is True
    assert capsys.readouterr().out == (
        "Loss stalled. Learning rate too small. Stopping.\n"
    )
    assert sgd.learning_rate == pytest.approx(0.1 / 5**8)


@pytest.mark.parametrize("schedule", ["constant", "invscaling", "adaptive"])
def test_sgd_stopping_matches_sklearn(schedule, capsys):
    ours = SGDOptimizer(np.zeros(2), 0.3, learning_rate=schedule)
    theirs = sk_optim.SGDOptimizer([np.zeros(2)], 0.3, lr_schedule=schedule)
    for epoch in range(12):
        for optimizer in (ours, theirs):
            optimizer.iteration_ends(10 * epoch)
        our_stop = ours.trigger_stopping("Stalled.", verbose=True)
        our_out = capsys.readouterr().out
        their_stop = theirs.trigger_stopping("Stalled.", verbose=True)
        assert (our_stop, our_out) == (their_stop, capsys.readouterr().out)
        assert ours.learning_rate == theirs.learning_rate


def test_sgd_rejects_unknown_schedule():
    with pytest.raises(ValueError, match="learning_rate must be one of"):
        SGDOptimizer(np.zeros(2), learning_rate="cosine")


# -------------------------------------------------------------------------- Adam


def test_adam_matches_hand_computation_over_three_steps():
    lr0, b1, b2, eps = 0.01, 0.8, 0.9, 1e-3
    params = np.array([0.5, -1.0])
    steps = [np.array([1.0, 2.0]), np.array([-2.0, 0.5]), np.array([0.5, 0.0])]
    adam = AdamOptimizer(params, lr0, beta_1=b1, beta_2=b2, epsilon=eps)
    expected, m, v = [0.5, -1.0], [0.0, 0.0], [0.0, 0.0]
    for t, grad in enumerate(steps, start=1):
        lr_t = lr0 * math.sqrt(1 - b2**t) / (1 - b1**t)
        for i, g in enumerate(grad.tolist()):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            expected[i] -= lr_t * m[i] / (math.sqrt(v[i]) + eps)
        adam.update_params(params, grad)
        assert adam.t == t
        assert adam.learning_rate == pytest.approx(lr_t, rel=1e-15)
        assert_allclose(params, expected, rtol=1e-14)
        assert_allclose(adam.m, m, rtol=1e-14)
        assert_allclose(adam.v, v, rtol=1e-14)


def test_adam_first_step_moves_each_param_by_about_the_learning_rate():
    # Bias correction makes the first step lr0 * sign(g), whatever |g| is.
    params = np.array([0.0, 0.0, 0.0])
    adam = AdamOptimizer(params, learning_rate_init=0.1)
    adam.update_params(params, np.array([0.1, -5.0, 100.0]))
    assert_allclose(params, [-0.1, 0.1, -0.1], rtol=1e-4)


def test_adam_bookkeeping(capsys):
    adam = AdamOptimizer(np.zeros(2), learning_rate_init=0.003)
    assert adam.learning_rate == 0.003 and adam.t == 0
    adam.iteration_ends(100)
    assert adam.learning_rate == 0.003
    assert adam.trigger_stopping("Converged.", verbose=True) is True
    assert capsys.readouterr().out == "Converged. Stopping.\n"
    assert adam.trigger_stopping("Converged.", verbose=False) is True
    assert capsys.readouterr().out == ""


# ------------------------------------------------------ against scikit-learn itself

SGD_CONFIGS = [
    dict(learning_rate="constant", momentum=0.9, nesterov=True),
    dict(learning_rate="constant", momentum=0.9, nesterov=False),
    dict(learning_rate="constant", momentum=0.0, nesterov=False),
    dict(learning_rate="invscaling", momentum=0.5, nesterov=True, power_t=0.3),
    dict(learning_rate="adaptive", momentum=0.8, nesterov=False),
]


def run_both(ours, theirs, params, grads, rtol, epoch_length=2):
    """Step both optimizers on the same numbers; end an epoch every few steps."""
    sk_params = split(params)
    for step, grad in enumerate(grads, start=1):
        ours.update_params(params, grad)
        theirs.update_params(sk_params, split(grad))
        assert_allclose(params, join(sk_params), rtol=rtol, atol=rtol)
        assert ours.learning_rate == pytest.approx(theirs.learning_rate, rel=1e-15)
        if step % epoch_length == 0:
            for optimizer in (ours, theirs):
                optimizer.iteration_ends(step * 32)
                optimizer.trigger_stopping("", verbose=False)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("config", SGD_CONFIGS)
def test_sgd_equals_sklearn(config, dtype, rtol):
    params, grads = random_problem(dtype, n_steps=6)
    ours = SGDOptimizer(params, 0.05, **config)
    sk_config = {
        ("lr_schedule" if key == "learning_rate" else key): value
        for key, value in config.items()
    }
    theirs = sk_optim.SGDOptimizer(split(params), 0.05, **sk_config)
    run_both(ours, theirs, params, grads, rtol)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.7)])
def test_adam_equals_sklearn(betas, dtype, rtol):
    params, grads = random_problem(dtype, n_steps=6)
    ours = AdamOptimizer(params, 0.01, *betas, epsilon=1e-7)
    theirs = sk_optim.AdamOptimizer(split(params), 0.01, *betas, epsilon=1e-7)
    run_both(ours, theirs, params, grads, rtol)


# ----------------------------------------------------------- dtypes and plumbing


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_float32_stays_float32(name):
    params, grads = random_problem(np.float32)
    # NumPy scalars as hyperparameters must not upcast the arithmetic either.
    optimizer = OPTIMIZERS[name](params, learning_rate_init=np.float64(0.01))
    buffer = params
    for grad in grads:
        optimizer.update_params(params, grad)
        optimizer.iteration_ends(np.int64(10))
    assert params is buffer and params.dtype == np.float32
    for state in vars(optimizer).values():
        if isinstance(state, np.ndarray):
            assert state.dtype == np.float32
    assert type(optimizer.learning_rate) is float


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_updates_views_of_the_flat_vector(name):
    # The network cuts the flat vector into weight views: they must see the step.
    params, grads = random_problem(np.float64, n_steps=1)
    first_matrix = params[:12].reshape(3, 4)
    before = first_matrix.copy()
    OPTIMIZERS[name](params).update_params(params, grads[0])
    assert not np.allclose(first_matrix, before)
    assert_array_equal(first_matrix, params[:12].reshape(3, 4))


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_pickled_optimizer_continues_identically(name):
    params, grads = random_problem(np.float64)
    optimizer = OPTIMIZERS[name](params)
    optimizer.update_params(params, grads[0])
    restored = pickle.loads(pickle.dumps(optimizer))
    assert "_scratch_buffer" not in vars(restored)
    params_copy = params.copy()
    for grad in grads[1:]:
        optimizer.update_params(params, grad)
        restored.update_params(params_copy, grad)
    assert_array_equal(params, params_copy)


def test_optimizers_registry():
    assert OPTIMIZERS == {"sgd": SGDOptimizer, "adam": AdamOptimizer}


# ---------------------------------------------------------------------- clipping


def test_clip_by_value():
    grads = np.array([0.5, -3.0, 2.0, -0.2])
    norm = clip_gradients(grads, clip_value=1.0)
    assert_array_equal(grads, [0.5, -1.0, 1.0, -0.2])
    assert norm == pytest.approx(math.sqrt(0.25 + 9 + 4 + 0.04))


def test_clip_by_norm():
    grads = np.array([3.0, 0.0, -4.0])
    norm = clip_gradients(grads, clip_norm=2.5)
    assert type(norm) is float and norm == pytest.approx(5.0)
    assert_allclose(grads, [1.5, 0.0, -2.0])
    assert np.linalg.norm(grads) == pytest.approx(2.5)


def test_clip_by_value_then_norm():
    # Value clipping gives [1, 1, -1, -1] (norm 2), which the norm step halves.
    # Norm first would give [4, 1, -2, -1] / sqrt(22): another direction.
    grads = np.array([4.0, 1.0, -2.0, -1.0])
    norm = clip_gradients(grads, clip_value=1.0, clip_norm=1.0)
    assert norm == pytest.approx(math.sqrt(16 + 1 + 4 + 1))
    assert_allclose(grads, [0.5, 0.5, -0.5, -0.5])


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"clip_value": 5.0},
        {"clip_norm": 10.0},
        {"clip_value": 5.0, "clip_norm": 5.0},
    ],
)
def test_clip_no_op_below_thresholds(kwargs):
    grads = np.array([3.0, -4.0, 0.0], dtype=np.float32)
    norm = clip_gradients(grads, **kwargs)
    assert_array_equal(grads, [3.0, -4.0, 0.0])
    assert grads.dtype == np.float32
    assert norm == pytest.approx(5.0)


def test_clip_value_does_not_trigger_norm_clip_on_its_own_account():
    # Pre-clip norm 5 exceeds 2, but after value clipping the norm is sqrt(2) < 2.
    grads = np.array([3.0, -4.0])
    assert clip_gradients(grads, clip_value=1.0, clip_norm=2.0) == pytest.approx(5.0)
    assert_array_equal(grads, [1.0, -1.0])


def test_clip_norm_survives_float32_overflow():
    # Squaring 1e30 overflows float32: the norm must still be finite and correct.
    grads = np.array([3e30, -4e30, 0.0], dtype=np.float32)
    norm = clip_gradients(grads, clip_norm=1.0)
    assert norm == pytest.approx(5e30, rel=1e-6)
    assert grads.dtype == np.float32
    assert_allclose(grads, [0.6, -0.8, 0.0], rtol=1e-6)
