"""Backpropagation through time over stacked, optionally bidirectional layers.

Data layout
-----------
A batch is time-major.  Its input ``X`` is a 2-D matrix of shape ``(T * B, D)``
whose row ``t * B + b`` is step ``t`` of sequence ``b`` (zeros past a sequence's
end), either a dense array or a scipy CSR matrix (one-hot tokens).  Sequences are
sorted by length, longest first, so ``batch_sizes[t]``, the number of sequences
still running at step ``t``, says that rows ``[:batch_sizes[t]]`` are active.
The input projection is one GEMM (or one sparse product) over all steps before
the loop (over blocks of steps as the loop reaches them when no backward pass
follows), and the weight gradients are one GEMM each after the loop.

Truncation
----------
Truncation is expressed as *cuts*: at a cut, the gradient does not flow along the
recurrent edge into the previous state of some rows.  ``cuts`` maps a step ``t``
to a row slice; after the backward step ``t`` the carried ``dh`` (and ``dc``) of
those rows is zeroed.  ``truncation_cuts`` builds them for both modes of
``bptt_truncate`` (see its docstring).
"""

import math
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from ._blas import blas_threads
from ._cells import (
    WideProduct,
    gate_products,
    gate_scale_of,
    per_gate,
    scaled_gates,
    step_operand,
    step_weights,
)
from ._workspace import FRESH


class Batch(NamedTuple):
    """Time-major padded batch, sequences sorted by decreasing length."""

    X: object  # (T * B, D) ndarray or scipy.sparse CSR matrix
    lengths: np.ndarray  # (B,) int, non-increasing
    batch_sizes: np.ndarray  # (T,) int, batch_sizes[t] = #sequences longer than t

    @property
    def n_steps(self):
        return len(self.batch_sizes)

    @property
    def n_sequences(self):
        return len(self.lengths)


def batch_sizes_from_lengths(lengths, n_steps):
    """Number of sequences still running at each step (``lengths`` sorted desc)."""
    return np.searchsorted(-np.asarray(lengths), -np.arange(n_steps), side="left")


class LayerParams(NamedTuple):
    """Views of one layer-direction's parameters, as in PyTorch's state_dict."""

    weight_ih: np.ndarray  # (G * H, D)
    weight_hh: np.ndarray  # (G * H, H)
    bias_ih: np.ndarray  # (G * H,)
    bias_hh: np.ndarray  # (G * H,)


def projection_weights(cell, p, scale, columns=None):
    """The input projection's ``(G, H, D)`` weights and ``(G, H)`` bias, per gate:
    ``W_ih`` and ``b_ih`` (plus ``b_hh`` where the cell allows), each gate times
    its factor in ``scale`` (see :func:`gate_scale_of`).  Made once per direction.
    With ``columns`` (see :func:`used_columns`), only those columns of ``W_ih``:
    ``(G, H, len(columns))``."""
    G = cell.n_gates
    W = per_gate(p.weight_ih, G)
    if columns is not None:
        W = W[..., columns]
    W = scaled_gates(W, scale)
    bias = per_gate(p.bias_ih, G).copy()
    folded = cell.folded_bias_gates
    bias[:folded] += per_gate(p.bias_hh, G)[:folded]
    if scale is not None:
        bias *= scale[:, 0]
    return W, bias


def input_projection(X, W, bias, n_steps, ws=FRESH):
    """``x_t W^T + bias`` for all steps, gate-major ``(G, T, B, H)``, from the
    per-gate weights and bias of :func:`projection_weights`."""
    G, H = bias.shape
    if sp.issparse(X):
        # scipy copies a dense operand that is not row-major: give it one
        W_rows = np.ascontiguousarray(W.reshape(G * H, -1).T)
        proj = gate_major(np.asarray(X @ W_rows), G)
    else:
        dtype = np.result_type(X.dtype, W.dtype)
        proj = ws.empty((G, X.shape[0], H), dtype)
        np.matmul(X, W.mT, out=proj)
    proj += bias[:, None]
    return proj.reshape(G, n_steps, -1, H)


def used_columns(X):
    """``(columns, X_used)`` for a sparse ``X``: the sorted columns holding a
    stored value, and ``X`` as a CSR matrix of those columns alone (the same
    values in the same order, their column indices renumbered).

    A batch of one-hot tokens uses a few thousand of a vocabulary's columns at
    most; restricted to them, the input projection and the gradient of
    ``W_ih`` touch ``G * H`` values per used column instead of per column of
    the vocabulary (a text pipeline's training epoch spent a third of its
    time copying, scaling and adding whole ``(G * H, D)`` matrices before;
    benchmarks/README.md, item 29).  The products sum the same terms in the
    same order, so the results are the same bits.
    """
    X = X.tocsr()
    columns, renumbered = np.unique(X.indices, return_inverse=True)
    X_used = sp.csr_matrix(
        (X.data, renumbered.reshape(-1), X.indptr), shape=(X.shape[0], len(columns))
    )
    return columns, X_used


def gate_major(A, n_gates):
    """``(T * B, G * H)`` rows, gates side by side, as a ``(G, T * B, H)`` copy."""
    return np.ascontiguousarray(per_gate(A.T, n_gates).mT)


def is_padded(batch_sizes, n_sequences):
    """Whether some sequence ends before the last step (its rows are padding)."""
    return batch_sizes[-1] < n_sequences


def state_indices(t, reverse):
    """(prev, cur) positions in a trace's state arrays for step ``t``."""
    return (t + 1, t) if reverse else (t, t + 1)


def step_order(n_steps, reverse, backward=False):
    """Steps in processing order; the backward pass walks them in reverse."""
    forward_in_time = reverse == backward
    return range(n_steps) if forward_in_time else range(n_steps - 1, -1, -1)


# Without a backward pass (prediction), the input projection is computed for
# blocks of steps of at most this many bytes as the loop reaches them, instead
# of for the whole sequence at once: prediction memory stays O(B * H) per step
# (the outputs) rather than O(G * B * H), and the block stays in cache.  At
# B=128, T=100, H=256 this made prediction 10 to 25% faster (no page faults on a
# 50-100 MB projection per call); a training step projects the whole sequence
# in one GEMM, whose memory the workspace reuses from step to step.
PROJECTION_BLOCK_BYTES = 8 * 2**20


def projection_blocks(n_steps, step_bytes, keep_trace, reverse):
    """``(start, stop)`` step ranges of the projection blocks, in processing order."""
    size = n_steps if keep_trace else max(1, PROJECTION_BLOCK_BYTES // step_bytes)
    blocks = [(lo, min(lo + size, n_steps)) for lo in range(0, n_steps, size)]
    return blocks[::-1] if reverse else blocks


# A forward step multiplies its input by every gate's weights.  Stacked GEMMs
# (one per gate) write each gate's block where the step's elementwise passes
# want it, contiguous; one GEMM over all gates side by side writes a scratch
# the next pass reads strided (``_cells.gate_products``).  On one BLAS thread
# the two take about the same time (the stacked ones are faster at the small
# size); on two, each small stacked GEMM pays the BLAS's hand-over to its
# second thread, and the one GEMM won at the benchmark's two larger sizes
# (whole forward steps 0.71 to 0.96 of the time; GRU and LSTM, float32 and
# float64, Intel Xeon with AVX-512; benchmarks/README.md, item 25).  Over
# eleven other shapes it won or tied (at most 1.04 of the time) wherever the
# batch had no more rows than the layer has units, and lost (up to 1.21)
# wherever it had more (B=128 and 256 at H=64, B=256 at H=128, B=512 at
# H=256).  So a step takes the one GEMM where the BLAS has more than one
# thread, the step's product is at least ``WIDE_STEP_WORK`` multiply-adds (the
# estimators' own threshold for a second BLAS thread,
# ``_base.SINGLE_THREAD_STEP_WORK``) and the batch has at most
# ``WIDE_ROWS_PER_UNIT`` rows per unit (a bound read off those measurements
# on one machine, not derived).
WIDE_STEP_WORK = 2**20
WIDE_ROWS_PER_UNIT = 1


def wide_products(n_gates, n_rows, n_inputs, H):
    """Whether a step's product of ``n_rows`` rows of ``n_inputs`` values by the
    gates' weights runs as one GEMM over all gates (see ``WIDE_STEP_WORK``)."""
    return (
        n_gates > 1
        and n_rows * n_inputs * n_gates * H >= WIDE_STEP_WORK
        and n_rows <= WIDE_ROWS_PER_UNIT * H
        and blas_threads() > 1
    )


def forward_direction(
    cell, X, p, batch_sizes, reverse=False, initial=None, keep_trace=True, ws=FRESH
):
    """Run one direction of one layer over all steps; return its trace.

    ``initial`` is ``(h0, c0)`` for a forward direction (``c0`` None unless LSTM);
    the reverse direction always starts from zeros at each sequence's end.
    ``keep_trace=False`` keeps only what the outputs need (no backward pass).
    Scratch and trace arrays come from the workspace ``ws``.
    """
    n_steps, H = len(batch_sizes), p.weight_hh.shape[1]
    if n_steps == 0:
        raise ValueError("A batch needs at least one time step.")
    B = X.shape[0] // n_steps
    dtype = np.result_type(X.dtype, p.weight_ih.dtype)
    trace = cell.allocate(
        n_steps, B, H, dtype, keep_trace, ws, is_padded(batch_sizes, B)
    )
    if initial is not None:
        trace.h[0] = initial[0]
        if cell.has_cell_state:
            trace.c[0] = initial[1]
    scale = gate_scale_of(cell, dtype)
    columns = None
    if sp.issparse(X):
        columns, X = used_columns(X)
    width = X.shape[1] + 1 + H  # of a fused input row [x_t, 1, h]
    # Fused where its rows take no more memory than the projection would
    # (which the gate gradients of the backward pass take over); the fused
    # bias is the projection's, so every gate's b_hh must be folded into it.
    fused = (
        cell.fused_input
        and cell.folded_bias_gates == cell.n_gates
        and not sp.issparse(X)
        and width <= cell.n_gates * H
    )
    wide = wide_products(cell.n_gates, B, width if fused else H, H)
    product = ws.empty((B, cell.n_gates * H), dtype) if wide else None
    w = step_weights(p.weight_hh, p.bias_hh, cell.n_gates, scale, product)
    W_x, b_x = projection_weights(cell, p, scale, columns)
    if fused:
        if wide:
            W_c = WideProduct(fused_input_weights_side_by_side(
                W_x, b_x, w.products.W), product)
        else:
            W_c = fused_input_weights(W_x, b_x, w.W_T)
    step_bytes = cell.n_gates * B * H * dtype.itemsize
    block_memory = ws.mark()
    for lo, hi in projection_blocks(n_steps, step_bytes, keep_trace, reverse):
        ws.rewind(block_memory)  # the previous block's inputs are used up
        if fused:
            # The projection's size, so that its memory passes on to the gate
            # gradients (recycle below) as the projection's would.
            block = ws.empty(((hi - lo) * step_bytes // dtype.itemsize,), dtype)
            rows = fused_input_rows(X[lo * B : hi * B], hi - lo, H, block)
        else:
            block = input_projection(X[lo * B : hi * B], W_x, b_x, hi - lo, ws)
        steps = range(lo, hi)
        # The activations' exp forms overflow to inf where that gives their
        # exact limits: the warning is silenced once per block of steps, not at
        # every step (see _activations.py).
        with np.errstate(over="ignore"):
            for t in reversed(steps) if reverse else steps:
                prev, cur = state_indices(t, reverse)
                n = batch_sizes[t]
                if fused:
                    row = rows[t - lo, :n]
                    np.copyto(row[:, -H:], trace.h[prev, :n])
                    a = cell.preactivations(trace, t, n, cur)
                    # [x_t, 1, h] [W_ih, b, W_hh]^T for every gate
                    pre = gate_products(row, W_c, out=a)
                    cell.activate(trace, t, n, prev, cur, a, pre)
                else:
                    a_x = block[:, t - lo, :n]
                    cell.forward_step(trace, t, n, prev, cur, a_x, w)
    if keep_trace:
        ws.recycle(block)  # its memory serves the gate gradients of the backward pass
    return trace


def fused_input_weights(W_x, b_x, W_T):
    """``(G, D + 1 + H, H)``: per gate, the input weights, the bias and the
    recurrent weights stacked along the rows, all as the step multiplies them
    (transposed and scaled), so that one stacked GEMM of ``[x_t, 1, h_{t-1}]``
    gives a step's whole pre-activations.  Made once per direction.

    For cells with ``fused_input`` (the LSTM) on dense input, this replaces the
    input projection before the loop and the addition of its slice at every
    step: the projection's GEMM over all steps writes ``G * T * B * H`` values
    to memory and reads them back, while the fused step copies ``h_{t-1}``
    (``B * H`` values) into its row and lengthens its GEMM by ``D + 1``.  In
    process, against the projection: LSTM training 0.93 to 1.03 of the time,
    prediction 0.82 to 1.04 (float32 gains most).  The Elman cell measured no
    gain (one gate), the GRU cannot use it (its reset gate scales the
    recurrent side of the n gate alone).  The rows take no more memory than
    the projection they replace, whose place they take (``forward_direction``
    fuses only then).
    """
    # laid out as _cells.step_operand says: concatenate follows its operands'
    # layout, which for the input weights is transposed
    return step_operand(np.concatenate([W_x.mT, b_x[:, None, :], W_T], axis=1))


def fused_input_weights_side_by_side(W_x, b_x, W_h):
    """The weights of :func:`fused_input_weights` as one ``(D + 1 + H, G * H)``
    matrix, gate ``g`` in columns ``g * H:(g + 1) * H``, for one GEMM over all
    gates (``_cells.gate_products``); ``W_h`` is the recurrent side already in
    that form (``StepWeights.products.W``).  Made once per direction."""
    G, H = b_x.shape
    return step_operand(
        np.concatenate([W_x.reshape(G * H, -1).T, b_x.reshape(1, G * H), W_h])
    )


def fused_input_rows(X, n_steps, H, memory):
    """``(T, B, D + 1 + H)`` rows ``[x_t, 1, .]`` for :func:`fused_input_weights`,
    in the first elements of the 1-D array ``memory``; the last ``H`` columns are
    left for the time loop to fill with each step's previous state."""
    D = X.shape[1]
    shape = (n_steps, X.shape[0] // n_steps, D + 1 + H)
    rows = memory[: math.prod(shape)].reshape(shape)
    rows[..., :D] = X.reshape(shape[0], shape[1], D)
    rows[..., D] = 1.0
    return rows


def direction_outputs(trace, reverse):
    """The ``(T, B, H)`` per-step outputs of a direction (a view of its trace)."""
    return trace.h[:-1] if reverse else trace.h[1:]


def backward_direction(
    cell, trace, d_out, p, batch_sizes, reverse, cuts, ws=FRESH, out_steps=None
):
    """Gradients of the gate pre-activations for one direction of one layer.

    ``d_out`` (T, B, H) is the gradient of the loss with respect to the
    direction's outputs; ``out_steps``, if given, holds the only steps at which
    it may be nonzero (a sequence-to-one output reads a few steps), and the
    loop adds nothing at the others.  Returns ``(dA_x, dA_h)``: ``dA_x``
    ``(G, T, B, H)``; ``dA_h`` the recurrent-side gradients of the gates past
    ``cell.folded_bias_gates`` (the GRU's n gate), whose recurrent side differs,
    ``(G - folded, T, B, H)``, or None when no gate's does.
    """
    n_steps, B, H = d_out.shape
    # A step writes the gradients of its running rows; padded rows must be zeros
    # (the weight gradients are GEMMs over all rows).
    new = ws.zeros if is_padded(batch_sizes, B) else ws.empty
    dA_x = new((cell.n_gates, n_steps, B, H), d_out.dtype)
    n_separate = cell.n_gates - cell.folded_bias_gates
    dA_h = new((n_separate, n_steps, B, H), dA_x.dtype) if n_separate else None
    dh = np.zeros((B, H), d_out.dtype)
    dc = np.zeros((B, H), d_out.dtype) if cell.has_cell_state else None
    w = step_weights(p.weight_hh, p.bias_hh, cell.n_gates, forward=False)
    scratch = cell.backward_scratch(B, H, d_out.dtype, ws)
    for t in step_order(n_steps, reverse, backward=True):
        prev, cur = state_indices(t, reverse)
        n = batch_sizes[t]
        if out_steps is None or t in out_steps:
            dh[:n] += d_out[t, :n]
        dc_n = None if dc is None else dc[:n]
        cell.backward_step(
            trace, t, n, prev, cur, dh[:n], dc_n, w, dA_x, dA_h, scratch
        )
        rows = cuts.get(t)
        if rows is not None:
            dh[rows] = 0.0
            if dc is not None:
                dc[rows] = 0.0
    return dA_x, dA_h


def direction_param_grads(trace, X, dA_x, dA_h, reverse, g):
    """Accumulate the weight and bias gradients of one direction into views ``g``.

    One (stacked) GEMM per weight matrix over all steps; padded rows carry zero
    gradient.  ``dA_x`` and ``dA_h`` are as :func:`backward_direction` returns
    them: the recurrent side takes ``dA_x`` for the gates before those of
    ``dA_h``.

    A bias gradient, the sum of a gate's ``(T * B, H)`` gradient over its
    rows, is taken as the product of a row of ones with it, the form of the
    weight gradients and run by the same BLAS: ``np.sum`` over that axis
    took 1.4 to 5.7x as long at the benchmark's sizes, and training epochs
    0.97 to 1.00 of the time with the product (benchmarks/README.md, item
    26).
    """
    G, H = dA_x.shape[0], dA_x.shape[-1]
    folded = G if dA_h is None else G - dA_h.shape[0]
    dA_x = dA_x.reshape(G, -1, H)
    h_prev = (trace.h[1:] if reverse else trace.h[:-1]).reshape(-1, H)
    if sp.issparse(X):
        columns, X_used = used_columns(X)  # the other columns' gradient is zero
        g.weight_ih[:, columns] += input_weight_gradient(X_used, dA_x)
    else:
        g.weight_ih[...] += input_weight_gradient(X, dA_x)
    ones = np.ones(dA_x.shape[1], dA_x.dtype)
    d_bias_ih = ones @ dA_x
    g.bias_ih[...] += d_bias_ih.reshape(-1)
    d_weight_hh, d_bias_hh = per_gate(g.weight_hh, G), per_gate(g.bias_hh, G)
    d_weight_hh[:folded] += dA_x[:folded].mT @ h_prev
    d_bias_hh[:folded] += d_bias_ih[:folded]
    if dA_h is not None:
        dA_h = dA_h.reshape(G - folded, -1, H)
        d_weight_hh[folded:] += dA_h.mT @ h_prev
        d_bias_hh[folded:] += ones @ dA_h


def input_weight_gradient(X, dA):
    """``sum_t dA_t^T x_t`` as the ``(G * H, D)`` gradient of ``W_ih``."""
    G, _, H = dA.shape
    if sp.issparse(X):
        dA_rows = dA.transpose(1, 0, 2).reshape(-1, G * H)
        return np.asarray((X.T @ dA_rows).T)
    return (dA.mT @ X).reshape(G * H, -1)


def forward_stack(
    cell, X, batch_sizes, layers, initial=None, keep_trace=True, ws=FRESH
):
    """Forward pass through all layers.

    ``layers`` is a list (one entry per layer) of lists of ``LayerParams`` (one
    per direction, forward first).  ``initial`` optionally gives ``(h0, c0)`` per
    layer for the forward direction.  Returns ``(inputs, traces)``: each layer's
    2-D input matrix and its per-direction traces (``keep_trace=False``: only
    what the outputs need, when no backward pass follows).
    """
    n_steps = len(batch_sizes)
    inputs, traces = [], []
    for layer, directions in enumerate(layers):
        start = None if initial is None else initial[layer]
        layer_traces = [
            forward_direction(
                cell,
                X,
                p,
                batch_sizes,
                reverse=d == 1,
                initial=start if d == 0 else None,
                keep_trace=keep_trace,
                ws=ws,
            )
            for d, p in enumerate(directions)
        ]
        inputs.append(X)
        traces.append(layer_traces)
        out = layer_output(layer_traces, ws)
        X = out.reshape(n_steps * out.shape[1], out.shape[2])
    return inputs, traces


def layer_output(layer_traces, ws=FRESH):
    """``(T, B, n_directions * H)`` output of a layer: directions concatenated."""
    outputs = [direction_outputs(tr, d == 1) for d, tr in enumerate(layer_traces)]
    if len(outputs) == 1:
        return outputs[0]
    T, B, H = outputs[0].shape
    out = ws.empty((T, B, len(outputs) * H), outputs[0].dtype)
    return np.concatenate(outputs, axis=-1, out=out)


def backward_stack(
    cell, inputs, traces, d_top, layers, grads, batch_sizes, cuts, ws=FRESH,
    top_steps=None,
):
    """Backward pass through all layers, accumulating into ``grads``.

    ``d_top`` is the gradient with respect to the top layer's output
    ``(T, B, n_directions * H)``; ``grads`` mirrors ``layers`` with gradient views;
    ``cuts`` holds one cut dictionary per direction.  ``top_steps``, if given,
    holds per direction the steps at which ``d_top`` may be nonzero (see
    :func:`output_steps`); the layers below receive gradient at every step.
    """
    d_out = d_top
    top = len(layers) - 1
    for layer in range(top, -1, -1):
        directions = layers[layer]
        out_steps = top_steps if layer == top else None  # d_in below is dense
        H = directions[0].weight_hh.shape[1]
        d_in = None
        for d, p in enumerate(directions):
            trace = traces[layer][d]
            dA_x, dA_h = backward_direction(
                cell,
                trace,
                d_out[..., d * H : (d + 1) * H],
                p,
                batch_sizes,
                reverse=d == 1,
                cuts=cuts[d],
                ws=ws,
                out_steps=None if out_steps is None else out_steps[d],
            )
            direction_param_grads(
                trace, inputs[layer], dA_x, dA_h, d == 1, grads[layer][d]
            )
            if layer > 0:
                G = dA_x.shape[0]
                dA_g = dA_x.reshape(G, -1, H)
                W_g = per_gate(p.weight_ih, G)
                per_g = ws.empty((G, dA_g.shape[1], W_g.shape[2]), dA_x.dtype)
                np.matmul(dA_g, W_g, out=per_g)
                if d_in is None:
                    d_in = per_g.sum(axis=0, out=ws.empty(per_g.shape[1:], per_g.dtype))
                else:
                    d_in += per_g.sum(axis=0)
        if layer > 0:
            d_out = d_in.reshape(d_top.shape[0], d_top.shape[1], -1)


def output_steps(lengths, n_directions):
    """Per direction, the steps at which a sequence-to-one output is read:
    each non-empty sequence's last step (forward), step 0 (reverse)."""
    last = lengths[lengths > 0] - 1
    return [frozenset(last.tolist()), frozenset((0,))][:n_directions]


def final_states(layer_traces, lengths):
    """Sequence-to-one features: forward state at each sequence's last step,
    concatenated with the reverse direction's state at step 0."""
    rows = np.arange(len(lengths))
    feats = [layer_traces[0].h[lengths, rows]]
    if len(layer_traces) == 2:
        feats.append(layer_traces[1].h[0])
    return feats[0] if len(feats) == 1 else np.concatenate(feats, axis=1)


def truncation_cuts(lengths, n_steps, k, return_sequences, reverse):
    """Where ``bptt_truncate=k`` stops the gradient, for one direction.

    Sequence-to-one: the gradient flows back through the last ``k`` steps of each
    sequence only.  For the forward direction the edge into step ``len - k`` is
    cut; for the reverse direction, whose output is read at step 0, the edge
    from step ``k`` into step ``k - 1`` is cut.

    Per-step outputs: the time axis is split into windows ``[0, k), [k, 2k), ...``;
    the state carries across window boundaries but the gradient does not (in
    either direction).
    """
    cuts = {}
    if k is None or k >= n_steps:
        return cuts
    if return_sequences:
        for start in range(k, n_steps, k):
            cuts[start - 1 if reverse else start] = slice(None)
        return cuts
    if reverse:
        cuts[k - 1] = slice(None)
        return cuts
    for t in range(1, n_steps):
        # lengths is non-increasing, so rows with length t + k are contiguous.
        lo = np.searchsorted(-lengths, -(t + k), side="left")
        hi = np.searchsorted(-lengths, -(t + k), side="right")
        if hi > lo:
            cuts[t] = slice(lo, hi)
    return cuts
