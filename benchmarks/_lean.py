"""The engine's prediction pass with nothing but its NumPy calls.

For one benchmark case, :func:`lean_pass` builds a function that runs the same
NumPy calls as ``RecurrentNetwork.predict`` on the same batches, in the same
order, with the same formulas and weights prepared by the engine's own helpers,
but with next to none of the Python around them: constants and buffers are
bound before the loop, a step indexes only the arrays that differ from step to
step (its input and its two states), and the only Python functions it calls
are the engine's own activation formulas (chosen once, as the engine chooses
them at every call).  Its scratch arrays come from one workspace kept from
pass to pass, where the engine's ``predict`` takes a new one at each call.
Single-layer, unidirectional, sequence-to-one, all sequences of full length:
the benchmark's cases.

Its time is what this engine's NumPy calls cost without the interpreter's
bookkeeping: about the best a rewrite of the time loop's Python could reach
without changing which NumPy calls a step makes.  Where it misses a target,
so would such a rewrite.  The benchmark checks, on first use, that it gives
the engine's output bit for bit.
"""

import numpy as np

from sklearn_rnn._core import _activations
from sklearn_rnn._core._bptt import (
    fused_input_rows,
    fused_input_weights,
    fused_input_weights_side_by_side,
    input_projection,
    projection_blocks,
    projection_weights,
    wide_products,
)
from sklearn_rnn._core._cells import gate_scale_of, step_weights
from sklearn_rnn._core._losses import softmax
from sklearn_rnn._core._workspace import Workspace


def _tanh_formula(dtype, size):
    """The engine's tanh formula for ``size`` values of ``dtype``, the one
    ``_activations.tanh`` picks at each call, picked once."""
    from_size = _activations._TANH_VIA_EXP_FROM.get(dtype)
    if from_size is not None and size >= from_size:
        return _activations._tanh_via_exp
    return _activations._np_tanh


def _prescaled_formula(dtype, which):
    """The formula ``_activations.logistic_of_prescaled`` (``which=1``) or
    ``_activations.gates_of_prescaled`` (``which=2``) picks for ``dtype``."""
    return _activations._LOGISTIC_OF_PRESCALED_BY_DTYPE.get(
        dtype, _activations._LOGISTIC_OF_NEGATED)[which]


def lean_pass(cell, net, params, batches):
    """A function of no arguments that predicts every batch of ``batches``
    (``(Batch, ...)`` tuples) and returns the list of their probabilities."""
    (p,), = net.layers(params)
    views = net.layout.views(params)
    W_out, b_out = views["output.weight"], views["output.bias"]
    X0 = batches[0][0].X
    T = batches[0][0].n_steps
    B = X0.shape[0] // T
    H = p.weight_hh.shape[1]
    dtype = np.result_type(X0.dtype, p.weight_ih.dtype)
    loop = {"elman": _elman, "lstm": _lstm, "gru": _gru}[cell]
    run = loop(net.cell, p, T, B, H, dtype)
    ws = Workspace()

    def predict_all():
        out = []
        for batch, *_ in batches:
            h = run(batch.X, ws.reset())
            out.append(softmax(h @ W_out.T + b_out))
        return out

    return predict_all


def _blocks(cell, T, B, H, dtype):
    """The engine's prediction blocks of steps (``_bptt.projection_blocks``)."""
    step_bytes = cell.n_gates * B * H * np.dtype(dtype).itemsize
    return projection_blocks(T, step_bytes, False, False)


# Each loop below allocates its states once; at each pass it prepares the
# weights with the engine's helpers (as ``_bptt.forward_direction`` does at
# each call), then runs the steps, block by block as the engine does, each
# block's input projection (or fused rows) taken from the workspace ``ws``.


def _elman(cell, p, T, B, H, dtype):
    if cell.activation is not _activations.tanh:
        raise ValueError("the lean loop mirrors the tanh Elman cell only")
    blocks = _blocks(cell, T, B, H, dtype)
    hs = np.zeros((T + 1, B, H), dtype)
    tanh = _tanh_formula(dtype, B * H)
    matmul = np.matmul

    def run(X, ws):
        W_T = step_weights(p.weight_hh, p.bias_hh, 1).W_T[0]
        W_x, b_x = projection_weights(cell, p, None)
        start = ws.mark()
        for lo, hi in blocks:
            ws.rewind(start)
            a_x = input_projection(X[lo * B : hi * B], W_x, b_x, hi - lo, ws)[0]
            for t in range(lo, hi):
                h = hs[t + 1]
                matmul(hs[t], W_T, out=h)
                h += a_x[t - lo]
                tanh(h, out=h)
        return hs[T]

    return run


def _lstm(cell, p, T, B, H, dtype):
    D = p.weight_ih.shape[1]
    if D + 1 + H > 4 * H:
        raise ValueError("the lean loop mirrors the LSTM's fused input route only")
    blocks = _blocks(cell, T, B, H, dtype)
    hs = np.zeros((T + 1, B, H), dtype)
    c = np.zeros((B, H), dtype)
    tanh_c = np.zeros((B, H), dtype)
    gates = np.zeros((4, B, H), dtype)
    i, f, g, o = gates
    product = np.zeros((B, 4 * H), dtype)  # the one-GEMM route's scratch
    product_gates = product.reshape(B, 4, H).transpose(1, 0, 2)
    gates_of_prescaled = _prescaled_formula(dtype, 2)
    g_gate = cell.G_GATE
    tanh = _tanh_formula(dtype, B * H)
    matmul, multiply, copyto = np.matmul, np.multiply, np.copyto
    add = np.add
    scale = gate_scale_of(cell, dtype)

    def run(X, ws):
        # The engine's choice of route, made as it makes it at each call.
        wide = wide_products(4, B, D + 1 + H, H)
        w = step_weights(p.weight_hh, p.bias_hh, 4, scale, product if wide else None)
        W_x, b_x = projection_weights(cell, p, scale)
        if wide:
            W_step = fused_input_weights_side_by_side(W_x, b_x, w.products.W)
            out_step, pre = product, product_gates
        else:
            W_step = fused_input_weights(W_x, b_x, w.W_T)
            out_step, pre = gates, gates
        c.fill(0.0)  # each batch starts from zero states, as in the engine
        start = ws.mark()
        for lo, hi in blocks:
            ws.rewind(start)
            memory = ws.empty(((hi - lo) * B * (D + 1 + H),), dtype)
            rows = fused_input_rows(X[lo * B : hi * B], hi - lo, H, memory)
            for t in range(lo, hi):
                row = rows[t - lo]
                copyto(row[:, -H:], hs[t])
                matmul(row, W_step, out=out_step)
                gates_of_prescaled(pre, g_gate, out=gates)
                multiply(f, c, out=c)
                add(c, multiply(i, g, out=tanh_c), out=c)
                tanh(c, out=tanh_c)
                multiply(o, tanh_c, out=hs[t + 1])
        return hs[T]

    return run


def _gru(cell, p, T, B, H, dtype):
    blocks = _blocks(cell, T, B, H, dtype)
    hs = np.zeros((T + 1, B, H), dtype)
    gates = np.zeros((3, B, H), dtype)
    hn = np.zeros((B, H), dtype)
    rz = gates[:2]
    r, z, n = gates
    product = np.zeros((B, 3 * H), dtype)  # the one-GEMM route's scratch
    product_gates = product.reshape(B, 3, H).transpose(1, 0, 2)
    sigmoid_of_prescaled = _prescaled_formula(dtype, 1)
    tanh = _tanh_formula(dtype, B * H)
    matmul, multiply, add, subtract = np.matmul, np.multiply, np.add, np.subtract
    scale = gate_scale_of(cell, dtype)

    def run(X, ws):
        # The engine's choice of route, made as it makes it at each call.
        wide = wide_products(3, B, H, H)
        w = step_weights(p.weight_hh, p.bias_hh, 3, scale, product if wide else None)
        b_hn = w.b_hh[2]
        if wide:
            W_step, out_step = w.products.W, product
            p_rz, p_n = product_gates[:2], product_gates[2]
        else:
            W_step, out_step, p_rz, p_n = w.W_T, gates, rz, n
        W_x, b_x = projection_weights(cell, p, scale)
        start = ws.mark()
        for lo, hi in blocks:
            ws.rewind(start)
            a_x = input_projection(X[lo * B : hi * B], W_x, b_x, hi - lo, ws)
            a_rz, a_n = a_x[:2], a_x[2]
            for t in range(lo, hi):
                h_prev, h = hs[t], hs[t + 1]
                matmul(h_prev, W_step, out=out_step)
                add(p_rz, a_rz[:, t - lo], out=rz)
                sigmoid_of_prescaled(rz, out=rz)
                add(p_n, b_hn, out=hn)
                multiply(r, hn, out=n)
                add(n, a_n[t - lo], out=n)
                tanh(n, out=n)
                subtract(h_prev, n, out=h)
                h *= z
                h += n
        return hs[T]

    return run
