"""Every activation formula the engine may pick equals the textbook function.

``_activations.py`` picks its tanh and sigmoid formulas by dtype and by whether
NumPy has AVX-512 kernels on the CPU, so a given machine runs only some of them.
These tests run all of them, whatever the machine.
"""

import warnings

import numpy as np
import pytest
from scipy.special import expit

from sklearn_rnn._core import _activations as act
from sklearn_rnn._core._bptt import (
    LayerParams,
    batch_sizes_from_lengths,
    forward_direction,
)
from sklearn_rnn._core._cells import make_cell

TANHS = [act._np_tanh, act._tanh_via_exp]
LOGISTICS = [act._logistic_via_exp, act._logistic_via_tanh]
# float64: a few units of 1e-16 absolute; float32: a few units of 1e-7.
ATOL = {np.float64: 1e-15, np.float32: 1e-6}


def _inputs(dtype):
    rng = np.random.default_rng(0)
    extremes = [0.0, -0.0, 1e-30, -1e-30, 1e-8, 20.0, -20.0, 1e4, -1e4, 1e30, -1e30]
    return np.concatenate([rng.normal(scale=4.0, size=2000), extremes]).astype(dtype)


# The sigmoid of a pre-activation the cells scale by s before the formula, and
# the formula for a step's gates, one of them tanh, scaled likewise.
LOGISTICS_OF_PRESCALED = [
    (-1.0, act._logistic_of_negated_via_exp, act._gates_of_negated_via_exp),
    (0.5, act._logistic_of_halved_via_tanh, act._gates_of_halved_via_tanh),
]


def expit_of_negated(x):
    return expit(-x)


def expit_of_doubled(x):
    return expit(2.0 * x)


TEXTBOOK_OF_PRESCALED = {-1.0: expit_of_negated, 0.5: expit_of_doubled}

FORMULAS = (
    [(f, np.tanh) for f in TANHS]
    + [(f, expit) for f in LOGISTICS]
    + [(f, TEXTBOOK_OF_PRESCALED[s]) for s, f, _ in LOGISTICS_OF_PRESCALED]
)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "formula, textbook", FORMULAS, ids=[f.__name__ for f, _ in FORMULAS]
)
def test_every_formula_equals_the_textbook_function(formula, textbook, dtype):
    x = _inputs(dtype)
    expected = textbook(x.astype(np.float64))
    # The exp forms overflow to inf where that gives the exact limit; the time
    # loop runs them with that warning off.  Nothing else may go wrong.
    with np.errstate(over="ignore", invalid="raise", divide="raise"):
        y = formula(x)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, expected, rtol=0, atol=ATOL[dtype])
    inplace = x.copy()
    with np.errstate(over="ignore"):
        assert formula(inplace, out=inplace) is inplace
    np.testing.assert_array_equal(inplace, y)


def test_time_loop_silences_only_the_overflow_it_expects():
    """Saturating inputs reach the exp forms inside the loop and warn nothing."""
    T, B, D, H = 3, 2, 2, 2
    X = np.full((T * B, D), 1e3)  # pre-activations around +-1e3: exp overflows
    for name in ("elman", "lstm", "gru"):
        G = make_cell(name).n_gates
        rng = np.random.default_rng(0)
        p = LayerParams(rng.normal(size=(G * H, D)), rng.normal(size=(G * H, H)),
                        np.zeros(G * H), np.zeros(G * H))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            trace = forward_direction(make_cell(name), X, p,
                                      batch_sizes_from_lengths([T, T], T))
        assert np.all(np.isfinite(trace.h)) and np.all(np.abs(trace.h) <= 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning, match="overflow"):
            np.exp(np.full(4, 1e3))  # the setting does not leak out of the loop


@pytest.mark.parametrize("n_copies", [1, 10])  # 2011 and 20110 values: the float32
@pytest.mark.parametrize("dtype", [np.float64, np.float32])  # tanh's form by size
def test_public_functions_dispatch_to_one_of_the_formulas(dtype, n_copies):
    x = np.tile(_inputs(dtype), n_copies)
    with np.errstate(over="ignore"):  # as in the time loop
        tanh, logistic = act.tanh(x), act.logistic(x)
        s = act.logistic_prescale(np.dtype(dtype))
        of_prescaled = act.logistic_of_prescaled(x)
        of_scaled_x = act.logistic_of_prescaled(x * dtype(s))
        np.testing.assert_allclose(tanh, np.tanh(x), rtol=0, atol=ATOL[dtype])
        assert any(np.array_equal(tanh, f(x)) for f in TANHS)
        assert any(np.array_equal(logistic, f(x)) for f in LOGISTICS)
        assert any(
            s == scale and np.array_equal(of_prescaled, f(x))
            for scale, f, _ in LOGISTICS_OF_PRESCALED
        )
    # The prescale and the formula agree: the sigmoid of x itself.
    np.testing.assert_allclose(of_scaled_x, expit(x.astype(np.float64)),
                               rtol=0, atol=ATOL[dtype])


def _prescaled_gates(dtype, s, tanh_gate, n_gates=4):
    """``(a, z)``: gate pre-activations ``a`` of shape ``(G, n, H)`` and ``z``,
    the same scaled as a cell scales them: ``s`` for the sigmoid gates, ``2 s``
    for the tanh gate (exact: powers of two)."""
    x = _inputs(dtype)[:2010]  # the extremes included
    a = np.stack([np.roll(x, 7 * k) for k in range(n_gates)]).reshape(n_gates, 30, 67)
    factors = np.full((n_gates, 1, 1), s, dtype)
    factors[tanh_gate] = 2 * s
    return a, a * factors


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("tanh_gate", [0, 2, 3])
@pytest.mark.parametrize(
    "triple", LOGISTICS_OF_PRESCALED, ids=["exp-form", "tanh-form"]
)
def test_gates_formulas_take_tanh_of_one_gate_and_the_sigmoid_of_the_rest(
    triple, tanh_gate, dtype
):
    s, sigmoid_of_prescaled, gates_of_prescaled = triple
    a, z = _prescaled_gates(dtype, s, tanh_gate)
    with np.errstate(over="ignore", invalid="raise", divide="raise"):
        y = gates_of_prescaled(z, tanh_gate)
        sigmoid_alone = sigmoid_of_prescaled(z)
    expected = expit(a.astype(np.float64))
    expected[tanh_gate] = np.tanh(a[tanh_gate].astype(np.float64))
    assert y.dtype == dtype
    np.testing.assert_allclose(y, expected, rtol=0, atol=ATOL[dtype])
    others = np.arange(len(a)) != tanh_gate
    # the sigmoid blocks are the sigmoid formula's, bit for bit
    np.testing.assert_array_equal(y[others], sigmoid_alone[others])
    inplace = z.copy()
    with np.errstate(over="ignore"):
        assert gates_of_prescaled(inplace, tanh_gate, out=inplace) is inplace
    np.testing.assert_array_equal(inplace, y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gates_of_prescaled_uses_the_formula_of_the_sigmoids_factor(dtype):
    s = act.logistic_prescale(np.dtype(dtype))
    a, z = _prescaled_gates(dtype, s, 2)
    with np.errstate(over="ignore"):
        y = act.gates_of_prescaled(z, 2)
        assert any(
            s == scale and np.array_equal(y, gates(z, 2))
            for scale, _, gates in LOGISTICS_OF_PRESCALED
        )
    expected = expit(a.astype(np.float64))
    expected[2] = np.tanh(a[2].astype(np.float64))
    np.testing.assert_allclose(y, expected, rtol=0, atol=ATOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_constants_are_read_only_0d_arrays_of_the_dtype(dtype):
    k = act.constants(np.dtype(dtype))
    assert [float(v) for v in k] == [0.5, 1.0, 2.0, -2.0]
    for value in k:
        assert value.shape == () and value.dtype == dtype
        with pytest.raises(ValueError, match="read-only"):
            value[...] = 0.0
