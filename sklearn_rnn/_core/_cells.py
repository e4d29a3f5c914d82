"""Recurrent cells: one time step forward and backward, in PyTorch's conventions.

Each cell owns a *trace*, a named tuple of arrays that covers the whole sequence,
allocated once per layer and direction.  ``h`` and ``c`` hold ``T + 1`` states:
the initial state and one per step.  A forward-direction step ``t`` reads state
``t`` and writes state ``t + 1``; a reverse-direction step reads ``t + 1`` and
writes ``t``.  The time loop (``_bptt.py``) passes those two indices as ``prev``
and ``cur``.

``allocate`` takes its arrays from a workspace (``_workspace.py``), which reuses
them from one training step to the next.  ``allocate(..., keep=False)`` keeps the
full history of ``h`` only (the layer's output) and lets all steps share one
buffer for everything else (a cell state buffer shared by all steps still holds
each row's latest state), for forward passes that no backward pass follows.

Activated gates are stored ``(T, G, B, H)``: each gate of a step is one
contiguous ``(B, H)`` block, and the ``G`` gates of a step are one contiguous
``(G, B, H)`` block, so the operations applied to all gates at once (adding the
input projection, the sigmoid) run on contiguous memory.  NumPy runs
elementwise operations on contiguous blocks 3 to 5x faster than on the column
slices of a ``(B, G * H)`` matrix (its iterator buffers strided 2-D operands),
which outweighs the cost of running the recurrent product as ``G`` stacked GEMMs
instead of one; cheap passes (add, negate) over ``G`` blocks that lie apart, as
the gates of one step do in a ``(G, T, B, H)`` array, measured 2 to 4.5x slower
than over one contiguous ``(G, B, H)`` block.  Where the BLAS runs two threads,
the step is large and the batch has no more rows than the layer has units,
the stacked GEMMs cost more than one GEMM over all gates (each pays the
hand-over to the second thread), and the step's product
runs as one GEMM into a ``(B, G * H)`` scratch that the step's first
elementwise pass reads strided while it writes the gate-major trace
(:func:`gate_products`, ``_bptt.wide_products``).  The gate
*gradients* are stored gate-major, ``(G, T, B, H)``, so that each gate over all
steps is one ``(T * B, H)`` matrix for the weight-gradient GEMMs; a backward
step works gate by gate, so it gains nothing from the other order.

Only the first ``n`` rows of the batch are active at a step: batches are sorted by
length, longest first, so the rows still inside their sequence form a prefix
(PyTorch's packed sequences use the same idea).  Rows that have finished keep their
last state, rows not yet started (reverse direction) keep the zero initial state.

Each cell's ``gate_scale(dtype)`` gives one factor per gate by which its
forward step computes that gate's pre-activation: for a sigmoid gate the
factor ``s`` of ``_activations.logistic_of_prescaled`` (-1 where the sigmoid is
``1 / (1 + exp(z))`` of what the GEMMs give, 0.5 where it is ``0.5 * tanh(z) +
0.5``: either way no pass over the gates before the formula); ``2 s`` for the
LSTM's g gate, whose tanh is taken from the same pass
(``_activations.gates_of_prescaled``).  The factors go into scaled copies of
the weights and biases, made once per direction (a few ``G * H * (D + H)``
values); scaling by a power of two or its negative is exact in floating
point, so the activated gates are those of the unscaled formulas.  The
backward pass uses the weights as they are.

The input projection ``x_t W_ih^T + b_ih`` is computed for all steps before the
loop, gate-major ``(G, T, B, H)``: one GEMM per gate writes it in place, where a
step-major one would need a GEMM per step and gate or a transposing copy
(measured slower than the strided read it saves).  A step receives its
``(G, n, H)`` slice as ``a_x``.  The LSTM's steps on dense input skip it: the
time loop multiplies each step's row ``[x_t, 1, h_{t-1}]`` by the input
weights, bias and recurrent weights stacked (``_bptt.fused_input_weights``),
one GEMM that writes the whole pre-activations where ``preactivations`` says,
and ``activate`` finishes the step (``forward_step`` is the two halves with
the projection between them, for sparse input).
Backward steps write the gradient of the gate pre-activations, also ``(G, n, H)``
per step, into ``dA_x`` (for ``W_ih``, ``b_ih``, and for ``W_hh``, ``b_hh``
where the recurrent side's gradient is the same), and turn ``dh`` (and ``dc``)
from the gradient at the step's output into the gradient at its input state.
Only the GRU's n gate, whose recurrent product the reset gate scales, has a
recurrent-side gradient of its own, in ``dA_h`` (``(1, T, B, H)``; None for the
other cells).
"""

from typing import NamedTuple

import numpy as np

from ._activations import (
    ACTIVATIONS,
    AVX512_KERNELS,
    DERIVATIVES,
    constants,
    gates_of_prescaled,
    inplace_logistic_derivative,
    inplace_tanh_derivative,
    logistic_of_prescaled,
    logistic_prescale,
    tanh,
)
from ._workspace import FRESH


class ElmanTrace(NamedTuple):
    h: np.ndarray  # (T + 1, B, H) hidden states


class LSTMTrace(NamedTuple):
    h: np.ndarray  # (T + 1, B, H) hidden states
    c: np.ndarray  # (T + 1, B, H) cell states
    gates: np.ndarray  # (T, 4, B, H) activated gates i, f, g, o
    tanh_c: np.ndarray  # (T, B, H) tanh(c_t)


class GRUTrace(NamedTuple):
    h: np.ndarray  # (T + 1, B, H) hidden states
    gates: np.ndarray  # (T, 3, B, H) activated gates r, z, n
    hn: np.ndarray  # (T, B, H) W_hn h_{t-1} + b_hn, the product the reset gate scales


def state_arrays(T, B, H, dtype, ws, padded):
    """``(T + 1, B, H)`` states from workspace ``ws``, ready for the time loop.

    In a batch with padding (some sequence shorter than ``T``), rows outside
    their sequence must read as zeros, so the whole array is zeroed.  Otherwise
    every step writes its state before anything reads it, and only the initial
    slots need zeros: ``0`` for a forward direction, ``T`` for a reverse one.
    """
    if padded:
        return ws.zeros((T + 1, B, H), dtype)
    states = ws.empty((T + 1, B, H), dtype)
    states[0] = 0.0
    states[T] = 0.0
    return states


def step_arrays(shape, dtype, keep, ws, time_axis=0):
    """Per-step arrays of ``shape`` from workspace ``ws``, whose axis
    ``time_axis`` runs over the steps.

    A step writes its rows before anything reads them, so with ``keep=True`` the
    array is left uninitialised.  With ``keep=False`` every step shares one
    zeroed buffer (a stride-0 time axis): a forward pass that no backward pass
    follows needs no per-step history of its gates, and reusing one buffer
    keeps the step's working set in cache.
    """
    if keep:
        return ws.empty(shape, dtype)
    one = ws.zeros(shape[:time_axis] + shape[time_axis + 1 :], dtype)
    strides = list(one.strides)
    strides.insert(time_axis, 0)
    return np.lib.stride_tricks.as_strided(one, shape, strides)


def per_gate(W, n_gates):
    """A fused ``(G * H, K)`` weight or ``(G * H,)`` bias as ``G`` blocks (a view)."""
    return W.reshape(n_gates, -1, *W.shape[1:])


def gate_scale_of(cell, dtype):
    """``(G, 1, 1)`` array of the cell's gate scale factors for ``dtype``, None
    if all are 1."""
    factors = cell.gate_scale(np.dtype(dtype))
    if all(factor == 1.0 for factor in factors):
        return None
    return np.array(factors)[:, None, None]


def scaled_gates(W, scale):
    """``G`` per-gate blocks of ``W`` times ``scale`` (a new array), or ``W``
    itself when ``scale`` is None."""
    return W if scale is None else W * scale.astype(W.dtype)


class WideProduct(NamedTuple):
    """A step's weights for all gates side by side, for its product over all
    gates as one GEMM, and the scratch that product goes to (see
    :func:`gate_products`)."""

    W: np.ndarray  # (K, G * H): gate g's (K, H) block in columns g * H:(g + 1) * H
    out: np.ndarray  # (B, G * H) scratch: a step's first n rows hold its product


class StepWeights(NamedTuple):
    """A direction's recurrent weights as its time loop uses them, prepared once
    per direction so that no step rebuilds them: views of ``W_hh`` and
    ``b_hh``, and for the forward steps copies laid out as
    :func:`step_operand` says (see :func:`step_weights`)."""

    W_T: np.ndarray  # (G, H, H): scale_g * W_g^T per gate, multiplies h_{t-1}
    W: np.ndarray  # (G, H, H): W_g per gate, multiplies a gate gradient from the right
    b_hh: np.ndarray  # (G, H): b_hh per gate
    W_hh: np.ndarray  # (G * H, H): all gates, multiplies a step's gate gradients
    products: object  # what a forward step multiplies h_{t-1} by: W_T or a WideProduct


def step_weights(W_hh, b_hh, n_gates, scale=None, product=None, forward=True):
    """:class:`StepWeights` of a fused ``(G * H, H)`` ``W_hh`` and its ``b_hh``;
    ``scale`` (see :func:`gate_scale_of`) scales ``W_T`` only.  With a
    ``(B, G * H)`` scratch ``product``, the forward steps multiply ``h_{t-1}``
    by all gates' weights in one GEMM into it (see :func:`gate_products`).
    ``forward=False`` leaves ``W_T`` and ``products`` None: a backward step
    multiplies by ``W`` and ``W_hh`` only.

    The weights a forward step multiplies by are laid out by
    :func:`step_operand`: row-major copies where OpenBLAS runs the step's thin
    product ``h_{t-1} W`` faster so (up to twice as fast), else the
    transposed views ``W_g^T`` of ``W_hh``.
    """
    W = per_gate(W_hh, n_gates)
    W_T = products = None
    if forward:
        W_T = step_operand(scaled_gates(W, scale).mT)
        products = W_T
        if product is not None:
            # gate g's (H, H) block in columns g * H:(g + 1) * H
            side_by_side = step_operand(W_T.transpose(1, 0, 2).reshape(W.shape[-1], -1))
            products = WideProduct(side_by_side, product)
    return StepWeights(
        W_T=W_T, W=W, b_hh=per_gate(b_hh, n_gates), W_hh=W_hh, products=products
    )


# Whether a step's weights are made row-major, by dtype (absent: yes).  A
# step's product ``h_{t-1} W``, ``(n, K)`` by ``(K, G * H)`` stacked or side by
# side, with ``W`` row-major against ``W`` the transposed view of ``W_hh``
# (time of the product alone; benchmarks/README.md, item 28):
# - OpenBLAS's AVX-512 (SkylakeX) kernels, AMD EPYC with AVX-512, 1 and 2
#   threads: at the benchmark's sizes float32 0.47 to 0.56 at B=32 H=64, 0.75
#   to 0.89 at B=64 H=128 and B=128 H=256, float64 0.63 to 0.71, 0.84 to 1.09
#   and 0.97 to 0.98; over 14 other shapes (B=1 to 512, H=32 to 512) 0.22 to
#   1.05, 0.22 to 0.58 at B=8 H=256;
# - its AVX2 (Haswell) kernels, on the same CPU: float32 0.74 to 1.06, but
#   float64 up to 1.23 at small batches (B=8 H=256 1.12 to 1.23, B=1 H=128
#   1.18); in the engine, float64 prediction at B=8 H=256 took 1.03 to 1.17x
#   as long row-major, at B=1 1.13x.
# OpenBLAS picks its kernels by the CPU, as NumPy does (``AVX512_KERNELS``),
# so float64 keeps the views where NumPy has no AVX-512 kernels.
ROW_MAJOR_STEP_OPERANDS = {np.dtype(np.float64): AVX512_KERNELS}


def step_operand(A):
    """``A``, the right operand of a step's product, as a C-contiguous copy
    where ``ROW_MAJOR_STEP_OPERANDS`` says its dtype runs faster so (``A``
    itself if it already is one), else ``A`` as it is."""
    if ROW_MAJOR_STEP_OPERANDS.get(A.dtype, True):
        return np.ascontiguousarray(A)
    return A


def gate_products(x, W, out):
    """``x W_g`` for every gate ``g``, as a ``(G, n, H)`` array.

    ``W`` is either the stacked ``(G, K, H)`` weights, multiplied by ``G``
    stacked GEMMs into ``out``, or a :class:`WideProduct` of the same weights,
    multiplied by one GEMM into its scratch, whose result is returned as a
    strided view (``out`` is then left alone; the caller's next pass reads
    the view and writes ``out``).

    Which is faster depends on the BLAS's threads and the sizes
    (``_bptt.wide_products``): on one thread the stacked GEMMs are about as
    fast, and their result is contiguous; on two threads each of the ``G``
    small GEMMs pays OpenBLAS's hand-over to its second thread, and one GEMM
    ``G`` times as wide took 0.46 to 0.87 of their time at the benchmark's
    two larger sizes (Intel Xeon, AVX-512, 2 cores; benchmarks/README.md,
    item 25).
    """
    if not isinstance(W, WideProduct):
        return np.matmul(x, W, out=out)
    n, H = x.shape[0], out.shape[-1]
    product = np.matmul(x, W.W, out=W.out[:n])
    # G spelled out: with no rows running (n = 0), -1 could not be inferred.
    return product.reshape(n, len(out), H).transpose(1, 0, 2)


def recurrent_gradient(blocks, W_hh, side_by_side, out):
    """``sum_g da_g W_g``, the gradient reaching ``h_{t-1}`` through the gates,
    as one GEMM.

    ``blocks`` holds the step's gate gradients in gate order, as ``(g, n, H)``
    arrays (the GRU's come from two arrays).  They are first copied side by side
    into the first ``n`` rows of the ``(B, G * H)`` scratch ``side_by_side``,
    which then multiplies the fused ``(G * H, H)`` ``W_hh``.  Measured against
    ``G`` stacked GEMMs and their sum (300 calls each): 0.66 to 0.99 of the time
    at every size, dtype and thread count of the benchmark.
    """
    n, H = blocks[0].shape[1:]
    rows = side_by_side[:n]
    gates = rows.reshape(n, -1, H)
    start = 0
    for block in blocks:
        stop = start + len(block)
        np.copyto(gates[:, start:stop], block.transpose(1, 0, 2))
        start = stop
    return np.matmul(rows, W_hh, out=out)


class ElmanCell:
    """Elman cell: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``."""

    n_gates = 1
    has_cell_state = False
    # With one gate the fused input GEMM measured no gain over the projection
    # (see _bptt.fused_input_weights).
    fused_input = False
    # b_hh adds to the same pre-activation as b_ih, so it joins the hoisted projection.
    folded_bias_gates = 1

    def gate_scale(self, dtype):
        return (1.0,)

    def __init__(self, activation="tanh"):
        self.activation = ACTIVATIONS[activation]
        self.derivative = DERIVATIVES[activation]

    def allocate(self, T, B, H, dtype, keep=True, ws=FRESH, padded=True):
        return ElmanTrace(h=state_arrays(T, B, H, dtype, ws, padded))

    def backward_scratch(self, B, H, dtype, ws=FRESH):
        return None  # one gate: its gradient multiplies W_hh directly

    def forward_step(self, trace, t, n, prev, cur, a_x, w):
        h = trace.h[cur, :n]
        np.matmul(trace.h[prev, :n], w.W_T[0], out=h)
        h += a_x[0]
        self.activation(h, out=h)

    def backward_step(self, trace, t, n, prev, cur, dh, dc, w, dA_x, dA_h, scratch):
        da = dA_x[0, t, :n]
        da[...] = dh
        self.derivative(trace.h[cur, :n], da)
        np.matmul(da, w.W[0], out=dh)


class LSTMCell:
    """LSTM cell with gates in PyTorch's order i, f, g, o.

    ``i = s(a_i)``, ``f = s(a_f)``, ``g = tanh(a_g)``, ``o = s(a_o)``,
    ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``, where
    ``a = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh`` and ``s`` is the sigmoid.
    """

    n_gates = 4
    G_GATE = 2  # the g gate's position, the one that takes tanh
    has_cell_state = True
    fused_input = True  # see _bptt.fused_input_weights
    folded_bias_gates = 4

    def gate_scale(self, dtype):
        # The forward step computes s a_i, s a_f, 2 s a_g, s a_o, s the factor
        # of the sigmoid's formula for dtype (see the module docstring).
        s = logistic_prescale(dtype)
        return (s, s, 2.0 * s, s)

    def allocate(self, T, B, H, dtype, keep=True, ws=FRESH, padded=True):
        c = (state_arrays(T, B, H, dtype, ws, padded) if keep
             else step_arrays((T + 1, B, H), dtype, keep, ws))
        return LSTMTrace(
            h=state_arrays(T, B, H, dtype, ws, padded),
            c=c,
            gates=step_arrays((T, 4, B, H), dtype, keep, ws),
            tanh_c=step_arrays((T, B, H), dtype, keep, ws),
        )

    def backward_scratch(self, B, H, dtype, ws=FRESH):
        return ws.empty((B, 4 * H), dtype)  # the gate gradients side by side

    def preactivations(self, trace, t, n, cur):
        return trace.gates[t, :, :n]  # activated in place

    def forward_step(self, trace, t, n, prev, cur, a_x, w):
        gates = self.preactivations(trace, t, n, cur)
        products = gate_products(trace.h[prev, :n], w.products, gates)
        np.add(products, a_x, out=gates)  # s a_i, s a_f, 2 s a_g, s a_o: scaled weights
        self.activate(trace, t, n, prev, cur, gates, gates)

    def activate(self, trace, t, n, prev, cur, gates, pre):
        """Finish step ``t`` from its ``(4, n, H)`` pre-activations ``pre`` (the
        step's slot ``gates`` of the trace, from ``preactivations``, or a view
        of a scratch), writing the activated gates into ``gates``."""
        # One pass over all four gates: the sigmoid of i, f and o, tanh of g.
        gates_of_prescaled(pre, self.G_GATE, out=gates)
        i, f, g, o = gates
        c = trace.c[cur, :n]
        np.multiply(f, trace.c[prev, :n], out=c)
        tanh_c = trace.tanh_c[t, :n]
        c += np.multiply(i, g, out=tanh_c)  # its slot serves as scratch first
        tanh(c, out=tanh_c)
        np.multiply(o, tanh_c, out=trace.h[cur, :n])

    def backward_step(self, trace, t, n, prev, cur, dh, dc, w, dA_x, dA_h, scratch):
        i, f, g, o = trace.gates[t, :, :n]
        tanh_c = trace.tanh_c[t, :n]
        da = dA_x[:, t, :n]
        da_i, da_f, da_g, da_o = da
        one = constants(da.dtype).one  # 1.0 as a 0-d array: see _activations
        # h_t = o * tanh(c_t); products shared between gates save passes.
        d_tanh_c = dh * o
        np.multiply(d_tanh_c, tanh_c, out=da_o)
        da_o *= one - o  # dh tanh(c_t) o (1 - o)
        inplace_tanh_derivative(tanh_c, d_tanh_c)
        dc += d_tanh_c
        # c_t = f * c_{t-1} + i * g
        np.multiply(dc, i, out=da_g)
        np.multiply(da_g, g, out=da_i)
        da_i *= one - i  # dc g i (1 - i)
        inplace_tanh_derivative(g, da_g)  # dc i (1 - g^2)
        np.multiply(dc, trace.c[prev, :n], out=da_f)
        inplace_logistic_derivative(f, da_f)
        dc *= f
        recurrent_gradient((da,), w.W_hh, scratch, out=dh)


class GRUCell:
    """GRU cell with gates in PyTorch's order r, z, n.

    ``r = s(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)``,
    ``z = s(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)``,
    ``n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))``,
    ``h_t = (1 - z) * n + z * h_{t-1}``.
    """

    n_gates = 3
    has_cell_state = False
    # r scales only the recurrent side of the n gate: its two sides stay apart.
    fused_input = False
    # b_hr and b_hz join the hoisted input projection; b_hn sits inside r * (...).
    folded_bias_gates = 2

    def gate_scale(self, dtype):
        # The forward step computes s a_r, s a_z (see the module docstring); the
        # n gate's recurrent product is kept as it is, for the backward pass.
        s = logistic_prescale(dtype)
        return (s, s, 1.0)

    def allocate(self, T, B, H, dtype, keep=True, ws=FRESH, padded=True):
        return GRUTrace(
            h=state_arrays(T, B, H, dtype, ws, padded),
            gates=step_arrays((T, 3, B, H), dtype, keep, ws),
            hn=step_arrays((T, B, H), dtype, keep, ws),
        )

    def backward_scratch(self, B, H, dtype, ws=FRESH):
        # The gate gradients side by side, and the recurrent gradient they give.
        return ws.empty((B, 3 * H), dtype), ws.empty((B, H), dtype)

    def forward_step(self, trace, t, n, prev, cur, a_x, w):
        h_prev = trace.h[prev, :n]
        gates = trace.gates[t, :, :n]
        r, z, n_gate = gates
        # -W_hr h, -W_hz h and W_hn h: in the gates' slots (stacked GEMMs) or
        # in a scratch (one GEMM), read before the n gate's slot is written.
        products = gate_products(h_prev, w.products, gates)
        rz = gates[:2]
        np.add(products[:2], a_x[:2], out=rz)  # s a_r, s a_z
        logistic_of_prescaled(rz, out=rz)
        hn = np.add(products[2], w.b_hh[2], out=trace.hn[t, :n])
        np.multiply(r, hn, out=n_gate)
        n_gate += a_x[2]
        tanh(n_gate, out=n_gate)
        h = trace.h[cur, :n]
        np.subtract(h_prev, n_gate, out=h)
        h *= z
        h += n_gate

    def backward_step(self, trace, t, n, prev, cur, dh, dc, w, dA_x, dA_h, scratch):
        r, z, n_gate = trace.gates[t, :, :n]
        da_r, da_z, da_n = dA_x[:, t, :n]
        np.subtract(constants(z.dtype).one, z, out=da_n)
        da_n *= dh
        inplace_tanh_derivative(n_gate, da_n)
        np.subtract(trace.h[prev, :n], n_gate, out=da_z)
        da_z *= dh
        inplace_logistic_derivative(z, da_z)
        np.multiply(da_n, trace.hn[t, :n], out=da_r)
        inplace_logistic_derivative(r, da_r)
        da_hn = dA_h[:, t, :n]  # the n gate's recurrent side: da_n * r
        np.multiply(da_n, r, out=da_hn[0])
        side_by_side, product = scratch
        blocks = (dA_x[:2, t, :n], da_hn)  # r and z: the same on both sides
        dh *= z
        dh += recurrent_gradient(blocks, w.W_hh, side_by_side, out=product[:n])


CELLS = {"elman": ElmanCell, "lstm": LSTMCell, "gru": GRUCell}


def make_cell(cell, activation="tanh"):
    """Instantiate the cell named ``cell``; ``activation`` applies to Elman only."""
    if cell == "elman":
        return ElmanCell(activation)
    return CELLS[cell]()
