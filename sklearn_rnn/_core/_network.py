"""The whole recurrent network: parameter layout, initialisation, loss and gradient.

All parameters live in one flat array; ``ParameterLayout.views`` cuts it into the
named matrices of PyTorch's ``state_dict`` (``weight_ih_l0``, ``weight_hh_l0``,
``bias_ih_l0``, ``bias_hh_l0``, ``..._reverse``, then ``output.weight`` and
``output.bias``).  Gradients use the same layout, so an optimizer step, the L2
penalty and gradient clipping are one vector operation each.
"""

from typing import NamedTuple

import numpy as np

from ._bptt import (
    Batch,
    LayerParams,
    backward_stack,
    final_states,
    forward_stack,
    layer_output,
    output_steps,
    truncation_cuts,
)
from ._cells import make_cell
from ._losses import LOSSES, OUTPUT_ACTIVATIONS
from ._workspace import FRESH


class ParameterLayout:
    """Names, shapes and offsets of the parameters inside one flat vector."""

    def __init__(self, shapes):
        self.shapes = dict(shapes)
        self.slices = {}
        start = 0
        for name, shape in self.shapes.items():
            stop = start + int(np.prod(shape))
            self.slices[name] = slice(start, stop)
            start = stop
        self.size = start

    def views(self, flat):
        """Dict of named views into ``flat`` (writing a view writes ``flat``)."""
        return {
            name: flat[self.slices[name]].reshape(shape)
            for name, shape in self.shapes.items()
        }

    def weight_slices(self):
        """Slices of the weight matrices (where the L2 penalty applies, not biases)."""
        return [part for name, part in self.slices.items() if "weight" in name]


def _orthogonal(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def _glorot(rng, n):
    limit = np.sqrt(6.0 / (2 * n))
    return rng.uniform(-limit, limit, (n, n))


def _he(rng, n):
    return rng.standard_normal((n, n)) * np.sqrt(2.0 / n)


RECURRENT_INITS = {"orthogonal": _orthogonal, "glorot": _glorot, "he": _he}


class ForwardCache(NamedTuple):
    inputs: list
    traces: list
    features: np.ndarray  # what the output layer reads


class RecurrentNetwork:
    """Stacked (bi)directional recurrent layers followed by a linear output layer.

    Parameters
    ----------
    cell : {"elman", "lstm", "gru"}
    n_features : int
        Input size per time step.
    hidden_layer_sizes : tuple of int
        Hidden size of each recurrent layer.
    n_outputs : int
    bidirectional : bool
    activation : {"tanh", "relu", "logistic"}
        Elman hidden activation.
    return_sequences : bool
        False: one output per sequence (its last step); True: one per step.
    loss : {"softmax", "logistic", "squared_error"}
    """

    def __init__(
        self,
        cell,
        n_features,
        hidden_layer_sizes,
        n_outputs,
        bidirectional=False,
        activation="tanh",
        return_sequences=False,
        loss="squared_error",
    ):
        self.cell = make_cell(cell, activation)
        self.n_features = n_features
        self.hidden_layer_sizes = tuple(hidden_layer_sizes)
        self.n_outputs = n_outputs
        self.n_directions = 2 if bidirectional else 1
        self.return_sequences = return_sequences
        self.loss_name = loss
        self.layout = ParameterLayout(self._shapes())
        self.weight_slices = self.layout.weight_slices()

    def _shapes(self):
        shapes = {}
        n_in = self.n_features
        G = self.cell.n_gates
        for layer, H in enumerate(self.hidden_layer_sizes):
            for suffix in ("", "_reverse")[: self.n_directions]:
                shapes[f"weight_ih_l{layer}{suffix}"] = (G * H, n_in)
                shapes[f"weight_hh_l{layer}{suffix}"] = (G * H, H)
                shapes[f"bias_ih_l{layer}{suffix}"] = (G * H,)
                shapes[f"bias_hh_l{layer}{suffix}"] = (G * H,)
            n_in = self.n_directions * H
        shapes["output.weight"] = (self.n_outputs, n_in)
        shapes["output.bias"] = (self.n_outputs,)
        return shapes

    def layers(self, flat):
        """Per layer, per direction ``LayerParams`` views of ``flat``."""
        v = self.layout.views(flat)
        suffixes = ("", "_reverse")[: self.n_directions]
        return [
            [
                LayerParams(*(v[f"{kind}_l{layer}{s}"] for kind in LayerParams._fields))
                for s in suffixes
            ]
            for layer in range(len(self.hidden_layer_sizes))
        ]

    def init_params(self, rng, init="orthogonal", dtype=np.float64):
        """A new flat parameter vector.

        Input and output weights are Glorot-uniform, recurrent weights follow
        ``init`` gate by gate, biases are zero except the LSTM forget gate's input
        bias, set to 1 so that early training does not forget by default.
        """
        flat = np.zeros(self.layout.size, dtype=dtype)
        G = self.cell.n_gates
        for directions in self.layers(flat):
            for p in directions:
                H = p.weight_hh.shape[1]
                limit = np.sqrt(6.0 / (p.weight_ih.shape[1] + H))
                p.weight_ih[...] = rng.uniform(-limit, limit, p.weight_ih.shape)
                recurrent_init = RECURRENT_INITS[init]
                for gate in range(G):
                    p.weight_hh[gate * H : (gate + 1) * H] = recurrent_init(rng, H)
                if G == 4:
                    p.bias_ih[H : 2 * H] = 1.0
        W_out = self.layout.views(flat)["output.weight"]
        limit = np.sqrt(6.0 / sum(W_out.shape))
        W_out[...] = rng.uniform(-limit, limit, W_out.shape)
        return flat

    # ------------------------------------------------------------------ forward
    def forward(self, flat, batch, initial=None, keep_trace=True, workspace=None):
        """Raw outputs and the cache the backward pass needs.

        Sequence-to-one: ``Z`` is ``(B, n_outputs)``; per-step: ``(T, B, n_outputs)``.
        ``keep_trace=False`` (prediction) keeps only what the outputs need.
        ``workspace`` (a ``Workspace``) lends the scratch arrays, which stay valid
        until its next reset; by default every array is new.
        """
        ws = (FRESH if workspace is None else workspace).reset()
        return self._forward(flat, batch, initial, keep_trace, ws)

    def _forward(self, flat, batch, initial, keep_trace, ws):
        v = self.layout.views(flat)
        inputs, traces = forward_stack(
            self.cell,
            batch.X,
            batch.batch_sizes,
            self.layers(flat),
            initial,
            keep_trace,
            ws,
        )
        if self.return_sequences:
            features = layer_output(traces[-1], ws)
        else:
            features = final_states(traces[-1], batch.lengths)
        Z = features @ v["output.weight"].T + v["output.bias"]
        return Z, ForwardCache(inputs, traces, features)

    def predict(self, flat, batch, workspace=None):
        """Output-layer activations (probabilities or regression values)."""
        Z, _ = self.forward(flat, batch, keep_trace=False, workspace=workspace)
        return OUTPUT_ACTIVATIONS[self.loss_name](Z)

    # ----------------------------------------------------------------- backward
    def loss_and_grad(
        self, flat, batch, Y, weights, alpha=0.0, bptt_truncate=None, workspace=None
    ):
        """Mean loss over the batch and its gradient as a flat vector.

        ``loss = (sum_i w_i l_i + alpha / 2 * ||W||^2) / sum_i w_i`` where ``i``
        runs over sequences (or over valid steps with ``return_sequences``) and
        ``W`` over the weight matrices (not the biases).  A ``workspace`` passed
        from step to step lends the scratch arrays (traces, gate gradients), so
        steps after the first allocate almost nothing; the returned gradient is
        always a new array.
        """
        ws = (FRESH if workspace is None else workspace).reset()
        batch, Y, initial = self._skip_untrained_prefix(
            flat, batch, Y, bptt_truncate, ws
        )
        Z, cache = self._forward(flat, batch, initial, True, ws)
        loss_sum, dZ = LOSSES[self.loss_name](Z, Y, weights)
        grad = np.zeros_like(flat)
        self._backward(flat, grad, batch, cache, dZ, bptt_truncate, ws)
        return self._normalise(flat, grad, loss_sum, weights, alpha)

    def _normalise(self, flat, grad, loss_sum, weights, alpha):
        total = float(np.sum(weights))
        scale = 1.0 / total if total > 0 else 1.0
        penalty = self.add_l2_penalty(flat, grad, alpha) if alpha else 0.0
        grad *= scale
        return (float(loss_sum) + penalty) * scale, grad

    def add_l2_penalty(self, flat, grad, alpha):
        """Add the gradient of ``alpha / 2 * ||W||^2`` to ``grad``; return the penalty.

        ``W`` runs over the weight matrices only (biases are not penalised, as in
        scikit-learn's MLP); each is a contiguous slice of the flat vectors, so
        this costs one pass over the weights and no copies of the whole vector.
        """
        total = 0.0
        for part in self.weight_slices:
            W = flat[part]
            total += float(W @ W)
            grad[part] += alpha * W
        return 0.5 * alpha * total

    def _backward(self, flat, grad, batch, cache, dZ, bptt_truncate, ws):
        v, g = self.layout.views(flat), self.layout.views(grad)
        n_out = self.n_outputs
        features = cache.features.reshape(-1, cache.features.shape[-1])
        g["output.weight"][...] = dZ.reshape(-1, n_out).T @ features
        g["output.bias"][...] = dZ.reshape(-1, n_out).sum(axis=0)
        d_features = dZ @ v["output.weight"]
        d_top = self._scatter_to_steps(d_features, batch, ws)
        cuts = [
            truncation_cuts(
                batch.lengths,
                batch.n_steps,
                bptt_truncate,
                self.return_sequences,
                reverse=d == 1,
            )
            for d in range(self.n_directions)
        ]
        backward_stack(
            self.cell,
            cache.inputs,
            cache.traces,
            d_top,
            self.layers(flat),
            self.layers(grad),
            batch.batch_sizes,
            cuts,
            ws,
            None
            if self.return_sequences
            else output_steps(batch.lengths, self.n_directions),
        )

    def _scatter_to_steps(self, d_features, batch, ws):
        """Gradient at the top layer's per-step outputs, ``(T, B, D_top)``."""
        if self.return_sequences:
            return d_features
        T, B = batch.n_steps, batch.n_sequences
        d_top = ws.zeros((T, B, d_features.shape[1]), d_features.dtype)
        H = self.hidden_layer_sizes[-1]
        rows = np.flatnonzero(batch.lengths > 0)  # an empty sequence is its h0
        d_top[batch.lengths[rows] - 1, rows, :H] = d_features[rows, :H]
        if self.n_directions == 2:
            d_top[0, :, H:] = d_features[:, H:]
        return d_top

    def _skip_untrained_prefix(self, flat, batch, Y, k, ws):
        """With ``bptt_truncate=k`` and one output per sequence, steps before
        ``min(lengths) - k`` never receive a gradient.  Run them in chunks of
        ``k`` steps without keeping their traces, so backward memory is O(k).

        Only for unidirectional networks: a reverse direction's output depends on
        every step, and it is kept whole.
        """
        t0 = 0 if k is None else int(batch.lengths[-1]) - k
        if t0 <= 0 or self.return_sequences or self.n_directions == 2:
            return batch, Y, None
        B = batch.n_sequences
        layers = self.layers(flat)
        state = None
        main, ws = ws, ws.side()
        mark = ws.mark()
        for start in range(0, t0, k):
            stop = min(start + k, t0)
            ws.rewind(mark)  # the previous chunk's arrays are dead: reuse them
            _, traces = forward_stack(
                self.cell,
                batch.X[start * B : stop * B],
                batch.batch_sizes[start:stop],
                layers,
                state,
                keep_trace=False,
                ws=ws,
            )
            state = [self._last_state(tr[0]) for tr in traces]
        main.release_side()  # the chunks are done: the rest of the step may reuse them
        rest = Batch(batch.X[t0 * B :], batch.lengths - t0, batch.batch_sizes[t0:])
        return rest, Y, state

    def _last_state(self, trace):
        c = trace.c[-1].copy() if self.cell.has_cell_state else None
        return trace.h[-1].copy(), c
