"""Activation functions and their derivatives, keyed by the ``activation`` option.

Every function works in place through ``out=`` so the time loop allocates nothing.
Derivatives are written in terms of the forward *outputs*, which the forward pass
stores anyway, so the backward pass never recomputes an activation.

Speed notes, measured on this project's machines with NumPy 2.4: which formula is
fastest depends on whether NumPy has AVX-512 kernels for the CPU.  With AVX-512,
``np.tanh`` is the fastest tanh in both dtypes, the float64 sigmoid is fastest as
``1 / (1 + exp(-x))`` and the float32 one as ``0.5 * tanh(0.5 x) + 0.5``.  Without
AVX-512 (AVX2 only), NumPy's float64 ``tanh`` and ``exp`` are scalar library
calls and ``tanh`` costs twice what ``exp`` does, so the float64 tanh is fastest as
``2 / (1 + exp(-2 x)) - 1`` (8192 values: 78 us against 149 us), and the float32
sigmoid as ``1 / (1 + exp(-x))`` (17 us against 27 us).  The float32 tanh takes that
exp form too from 16384 values on: alone it takes 0.75 of ``np.tanh``'s time at
16384 values and 0.7 from 32768 on (1.15 at 4096, 0.88 at 8192, where inside the
time loop it gained nothing).  ``tanh``, ``logistic``, ``logistic_of_prescaled``
and ``gates_of_prescaled`` pick their formula by dtype and CPU once, at import (the
float32 tanh by size too); every formula is exact up to rounding (the exp-based
tanh to a few units of ``1e-16`` absolute, which matters only for outputs below
about ``1e-8``).
``np.divide(1.0, x)`` is used because ``np.reciprocal`` is not vectorised and runs
3x slower.

Overflow: in the exp forms, ``exp`` overflows to inf for large arguments, which
gives the exact limit of the formula (``1 / inf = 0``).  These functions do not
silence NumPy's overflow warning themselves: entering ``np.errstate`` costs about
1.4 us, as much as an add over 8192 float32 values, and the time loop calls them
at every step.  Call them under ``np.errstate(over="ignore")``, as the time loop
does once per block of steps (``_bptt.forward_direction``).
"""

from typing import NamedTuple

import numpy as np


class Constants(NamedTuple):
    """The formulas' scalars as read-only 0-d arrays of one dtype.

    NumPy takes a Python float operand through its scalar conversion on every
    call, which cost 0.3 to 0.45 us here (measured with NumPy 2.4, float32 and
    float64, at every array size), a third of a small pass; a 0-d array of the
    other operand's dtype skips it.  A step of the time loop makes four to
    nine such calls.
    """

    half: np.ndarray
    one: np.ndarray
    two: np.ndarray
    minus_two: np.ndarray


def _constants_of(dtype):
    values = [np.full((), value, dtype) for value in (0.5, 1.0, 2.0, -2.0)]
    for value in values:
        value.flags.writeable = False
    return Constants(*values)


_CONSTANTS = {np.dtype(t): _constants_of(t) for t in (np.float32, np.float64)}


def constants(dtype):
    """:class:`Constants` of ``dtype`` (made once for float32 and float64)."""
    found = _CONSTANTS.get(dtype)
    return _constants_of(dtype) if found is None else found


def _logistic_via_exp(x, out=None):
    negated = np.negative(x, out=out)
    return _logistic_of_negated_via_exp(negated, out=negated)


def _tanh_via_exp(x, out=None):
    k = constants(x.dtype)
    out = np.multiply(x, k.minus_two, out=out)
    np.exp(out, out=out)  # inf for very negative x: 2 / inf - 1 = -1 is the limit
    out += k.one
    np.divide(k.two, out, out=out)
    out -= k.one
    return out


def _logistic_via_tanh(x, out=None):
    """``0.5 * tanh(x / 2) + 0.5``."""
    halved = np.multiply(x, constants(x.dtype).half, out=out)
    return _logistic_of_halved_via_tanh(halved, out=halved)


def _logistic_of_negated_via_exp(z, out=None):
    """``1 / (1 + exp(z))``: the sigmoid of ``-z``, one pass fewer than the sigmoid."""
    k = constants(z.dtype)
    out = np.exp(z, out=out)  # inf for large z: 1 / inf = 0 is the limit
    out += k.one
    return np.divide(k.one, out, out=out)


def _logistic_of_halved_via_tanh(z, out=None):
    """``0.5 * tanh(z) + 0.5``: the sigmoid of ``2 z`` through tanh, one pass
    fewer than the sigmoid (no halving of the argument)."""
    half = constants(z.dtype).half
    out = np.tanh(z, out=out)
    out *= half
    out += half
    return out


def _gates_of_negated_via_exp(z, tanh_gate, out=None):
    """:func:`_logistic_of_negated_via_exp` over every gate block of the
    ``(G, n, H)`` ``z``, then ``tanh(a) = 2 s(2 a) - 1`` from block
    ``tanh_gate``, whose pre-activation came scaled by ``2 * -1``."""
    out = _logistic_of_negated_via_exp(z, out=out)
    k = constants(out.dtype)
    g = out[tanh_gate]
    g *= k.two
    g -= k.one
    return out


def _gates_of_halved_via_tanh(z, tanh_gate, out=None):
    """:func:`_logistic_of_halved_via_tanh` over every gate block of the
    ``(G, n, H)`` ``z`` but ``tanh_gate``.  That block's pre-activation came
    scaled by ``2 * 0.5 = 1``: the one ``np.tanh`` over all blocks already
    gives its tanh, so only the other blocks take the sigmoid's last two passes
    (doing them and undoing them, ``2 s(2 a) - 1``, cost two passes over the
    block and rounded ``tanh(a)`` to the sigmoid's absolute precision)."""
    out = np.tanh(z, out=out)
    half = constants(out.dtype).half
    for block in (out[:tanh_gate], out[tanh_gate + 1 :]):
        if len(block):
            block *= half
            block += half
    return out


def _numpy_has_avx512_kernels():
    """Whether this CPU runs NumPy's AVX-512 (Skylake-X level) SIMD kernels."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # NumPy 1.x
        from numpy.core._multiarray_umath import __cpu_features__
    return bool(__cpu_features__.get("AVX512_SKX", False))


def _np_tanh(x, out=None):
    return np.tanh(x, out=out)


# Read once at import; the cells' choice of layout for their weights reads it too.
AVX512_KERNELS = _numpy_has_avx512_kernels()

if AVX512_KERNELS:
    _LOGISTIC_BY_DTYPE = {np.dtype(np.float32): _logistic_via_tanh}
    # (s, the sigmoid's formula, the gates' formula) by dtype, for
    # logistic_prescale, logistic_of_prescaled and gates_of_prescaled; absent:
    # the exp form, _LOGISTIC_OF_NEGATED.
    _LOGISTIC_OF_PRESCALED_BY_DTYPE = {
        np.dtype(np.float32): (
            0.5, _logistic_of_halved_via_tanh, _gates_of_halved_via_tanh
        )
    }
    # Arrays of at least this many values take the exp form of tanh; absent: never.
    _TANH_VIA_EXP_FROM = {}
else:
    _LOGISTIC_BY_DTYPE = {}
    _LOGISTIC_OF_PRESCALED_BY_DTYPE = {}
    _TANH_VIA_EXP_FROM = {np.dtype(np.float64): 0, np.dtype(np.float32): 16384}


def logistic(x, out=None):
    """Sigmoid ``1 / (1 + exp(-x))``, in place when ``out is x``."""
    return _LOGISTIC_BY_DTYPE.get(x.dtype, _logistic_via_exp)(x, out=out)


_LOGISTIC_OF_NEGATED = (-1.0, _logistic_of_negated_via_exp, _gates_of_negated_via_exp)


def logistic_prescale(dtype):
    """The factor ``s`` by which :func:`logistic_of_prescaled` takes its
    argument: -1 where the sigmoid's formula is the exp form, 0.5 where it is
    the tanh form."""
    return _LOGISTIC_OF_PRESCALED_BY_DTYPE.get(dtype, _LOGISTIC_OF_NEGATED)[0]


def logistic_of_prescaled(z, out=None):
    """Sigmoid of ``z / s`` for ``s = logistic_prescale(z.dtype)``, in place
    when ``out is z``: ``1 / (1 + exp(z))`` for ``s = -1``, ``0.5 * tanh(z) +
    0.5`` for ``s = 0.5``.

    The recurrent cells compute their sigmoid gates' pre-activations times
    ``s`` (their weights scaled once per direction; by -1 or 0.5, exactly in
    floating point), which saves either formula its first pass over all the
    gates of every step: the negation of the exp form, the halving of the tanh
    form.
    """
    formula = _LOGISTIC_OF_PRESCALED_BY_DTYPE.get(z.dtype, _LOGISTIC_OF_NEGATED)[1]
    return formula(z, out=out)


def gates_of_prescaled(z, tanh_gate, out=None):
    """A step's gates from their ``(G, n, H)`` prescaled pre-activations ``z``,
    in place when ``out is z``: block ``g = tanh_gate`` is ``tanh(z_g / (2 s))``,
    every other block ``k`` the sigmoid of ``z_k / s`` (as
    :func:`logistic_of_prescaled`), for ``s = logistic_prescale(z.dtype)``.

    The tanh comes from the sigmoid's own passes, ``tanh(a) = 2 s(2 a) - 1``,
    so that one pass over all the gates serves both functions.  In the tanh
    form (``s = 0.5``) the tanh gate's pre-activation, scaled by ``2 s = 1``,
    is its own, and that block skips the sigmoid's last two passes instead of
    doing and undoing them.
    """
    formula = _LOGISTIC_OF_PRESCALED_BY_DTYPE.get(z.dtype, _LOGISTIC_OF_NEGATED)[2]
    return formula(z, tanh_gate, out=out)


def tanh(x, out=None):
    """Hyperbolic tangent, in place when ``out is x``."""
    from_size = _TANH_VIA_EXP_FROM.get(x.dtype)
    if from_size is not None and x.size >= from_size:
        return _tanh_via_exp(x, out=out)
    return _np_tanh(x, out=out)


def relu(x, out=None):
    """Rectified linear unit ``max(x, 0)``."""
    return np.maximum(x, 0.0, out=out)


def inplace_logistic_derivative(y, delta):
    """Multiply ``delta`` by the sigmoid derivative ``y (1 - y)`` at output ``y``."""
    delta *= y
    delta *= constants(y.dtype).one - y


def inplace_tanh_derivative(y, delta):
    """Multiply ``delta`` by the tanh derivative ``1 - y**2`` at output ``y``."""
    delta *= constants(y.dtype).one - y * y


def inplace_relu_derivative(y, delta):
    """Zero ``delta`` where the ReLU output ``y`` is zero."""
    delta[y <= 0] = 0.0


ACTIVATIONS = {"tanh": tanh, "relu": relu, "logistic": logistic}

DERIVATIVES = {
    "tanh": inplace_tanh_derivative,
    "relu": inplace_relu_derivative,
    "logistic": inplace_logistic_derivative,
}
