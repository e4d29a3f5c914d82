"""Activation functions and their derivatives, keyed by the ``activation`` option.

Every function works in place through ``out=`` so the time loop allocates nothing.
Derivatives are written in terms of the forward *outputs*, which the forward pass
stores anyway, so the backward pass never recomputes an activation.

Speed notes, measured on this project's machines (NumPy 2.4, AVX-512): ``np.tanh``
is the fastest tanh in both float32 and float64.  For the sigmoid, float64 is
fastest as ``1 / (1 + exp(-x))`` (with ``np.divide``: ``np.reciprocal`` is not
vectorised and runs 3x slower), float32 as ``0.5 * tanh(0.5 x) + 0.5`` (NumPy's
float32 tanh is 2x faster than its float32 exp).  ``logistic`` therefore picks its
formula by dtype; both are exact up to rounding.
"""

import numpy as np


def _logistic_via_exp(x, out=None):
    out = np.negative(x, out=out)
    with np.errstate(over="ignore"):
        # exp overflows to inf for very negative x; 1 / inf = 0 is the right limit.
        np.exp(out, out=out)
    out += 1.0
    return np.divide(1.0, out, out=out)


def _logistic_via_tanh(x, out=None):
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


_LOGISTIC_BY_DTYPE = {np.dtype(np.float32): _logistic_via_tanh}


def logistic(x, out=None):
    """Sigmoid ``1 / (1 + exp(-x))``, in place when ``out is x``."""
    return _LOGISTIC_BY_DTYPE.get(x.dtype, _logistic_via_exp)(x, out=out)


def tanh(x, out=None):
    """Hyperbolic tangent."""
    return np.tanh(x, out=out)


def relu(x, out=None):
    """Rectified linear unit ``max(x, 0)``."""
    return np.maximum(x, 0.0, out=out)


def inplace_logistic_derivative(y, delta):
    """Multiply ``delta`` by the sigmoid derivative ``y (1 - y)`` at output ``y``."""
    delta *= y
    delta *= 1.0 - y


def inplace_tanh_derivative(y, delta):
    """Multiply ``delta`` by the tanh derivative ``1 - y**2`` at output ``y``."""
    delta *= 1.0 - y * y


def inplace_relu_derivative(y, delta):
    """Zero ``delta`` where the ReLU output ``y`` is zero."""
    delta[y <= 0] = 0.0


ACTIVATIONS = {"tanh": tanh, "relu": relu, "logistic": logistic}

DERIVATIVES = {
    "tanh": inplace_tanh_derivative,
    "relu": inplace_relu_derivative,
    "logistic": inplace_logistic_derivative,
}
