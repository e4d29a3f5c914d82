"""Every activation formula the engine may pick equals the textbook function.

``_activations.py`` picks its tanh and sigmoid formulas by dtype and by whether
NumPy has AVX-512 kernels on the CPU, so a given machine runs only some of them.
These tests run all of them, whatever the machine.
"""

import numpy as np
import pytest
from scipy.special import expit

from sklearn_rnn._core import _activations as act

TANHS = [act._np_tanh, act._tanh_via_exp]
LOGISTICS = [act._logistic_via_exp, act._logistic_via_tanh]
# float64: a few units of 1e-16 absolute; float32: a few units of 1e-7.
ATOL = {np.float64: 1e-15, np.float32: 1e-6}


def _inputs(dtype):
    rng = np.random.default_rng(0)
    extremes = [0.0, -0.0, 1e-30, -1e-30, 1e-8, 20.0, -20.0, 1e4, -1e4, 1e30, -1e30]
    return np.concatenate([rng.normal(scale=4.0, size=2000), extremes]).astype(dtype)


LOGISTICS_OF_NEGATED = [
    act._logistic_of_negated_via_exp,
    act._logistic_of_negated_via_tanh,
]


def expit_of_negated(x):
    return expit(-x)


FORMULAS = (
    [(f, np.tanh) for f in TANHS]
    + [(f, expit) for f in LOGISTICS]
    + [(f, expit_of_negated) for f in LOGISTICS_OF_NEGATED]
)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "formula, textbook", FORMULAS, ids=[f.__name__ for f, _ in FORMULAS]
)
def test_every_formula_equals_the_textbook_function(formula, textbook, dtype):
    x = _inputs(dtype)
    expected = textbook(x.astype(np.float64))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = formula(x)  # no overflow warning escapes
    assert y.dtype == dtype
    np.testing.assert_allclose(y, expected, rtol=0, atol=ATOL[dtype])
    inplace = x.copy()
    assert formula(inplace, out=inplace) is inplace
    np.testing.assert_array_equal(inplace, y)


@pytest.mark.parametrize("n_copies", [1, 10])  # 2011 and 20110 values: the float32
@pytest.mark.parametrize("dtype", [np.float64, np.float32])  # tanh's form by size
def test_public_functions_dispatch_to_one_of_the_formulas(dtype, n_copies):
    x = np.tile(_inputs(dtype), n_copies)
    np.testing.assert_allclose(act.tanh(x), np.tanh(x), rtol=0, atol=ATOL[dtype])
    assert any(np.array_equal(act.tanh(x), f(x)) for f in TANHS)
    assert any(np.array_equal(act.logistic(x), f(x)) for f in LOGISTICS)
    assert any(
        np.array_equal(act.logistic_of_negated(x), f(x)) for f in LOGISTICS_OF_NEGATED
    )
