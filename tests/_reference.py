"""A deliberately naive reference RNN for the tests: one sequence, one step at a time.

It shares no code with the engine: plain matrix-vector products, ``np.tanh`` and
``1 / (1 + exp(-x))``, the equations exactly as PyTorch documents them.  Truncated
BPTT is expressed as its definition: at a cut, the previous state enters the step
as a *constant* (recorded from an unperturbed run), so finite differences of
``reference_loss`` give the gradient of the truncated graph.
"""

import numpy as np
import scipy.sparse as sp


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


ACT = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0.0), "logistic": sigmoid}


def cell_step(cell, activation, x, h, c, W_ih, W_hh, b_ih, b_hh):
    if cell == "elman":
        return ACT[activation](W_ih @ x + b_ih + W_hh @ h + b_hh), c
    if cell == "lstm":
        i, f, g, o = np.split(W_ih @ x + b_ih + W_hh @ h + b_hh, 4)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        return sigmoid(o) * np.tanh(c), c
    gi_r, gi_z, gi_n = np.split(W_ih @ x + b_ih, 3)
    gh_r, gh_z, gh_n = np.split(W_hh @ h + b_hh, 3)
    r = sigmoid(gi_r + gh_r)
    z = sigmoid(gi_z + gh_z)
    n = np.tanh(gi_n + r * gh_n)
    return (1.0 - z) * n + z * h, c


def edge_is_cut(t, length, k, return_sequences, reverse):
    """Is the recurrent edge *into* step t cut (its previous state a constant)?"""
    if k is None:
        return False
    if return_sequences:
        return (t + 1) % k == 0 if reverse else (t > 0 and t % k == 0)
    if reverse:
        return t == k - 1
    return t == length - k


def run_direction(spec, P, layer, suffix, xs, frozen, key, length):
    cell, H = spec["cell"], spec["hidden"][layer]
    W_ih, W_hh = P[f"weight_ih_l{layer}{suffix}"], P[f"weight_hh_l{layer}{suffix}"]
    b_ih, b_hh = P[f"bias_ih_l{layer}{suffix}"], P[f"bias_hh_l{layer}{suffix}"]
    reverse = suffix == "_reverse"
    h, c = np.zeros(H), np.zeros(H)
    outs = [None] * length
    for t in range(length - 1, -1, -1) if reverse else range(length):
        if edge_is_cut(t, length, spec["k"], spec["return_sequences"], reverse):
            k_ = (*key, layer, suffix, t)
            if k_ not in frozen:
                frozen[k_] = (h.copy(), c.copy())
            h, c = frozen[k_]
        h, c = cell_step(cell, spec["activation"], xs[t], h, c, W_ih, W_hh, b_ih, b_hh)
        outs[t] = h
    return outs


def reference_outputs(spec, P, x, frozen, key):
    """Raw outputs (logits) for one sequence ``x`` of shape (T_i, D)."""
    length = x.shape[0]
    xs = list(x)
    suffixes = ["", "_reverse"] if spec["bidirectional"] else [""]
    for layer in range(len(spec["hidden"])):
        per_dir = [
            run_direction(spec, P, layer, s, xs, frozen, key, length) for s in suffixes
        ]
        xs = [np.concatenate([d[t] for d in per_dir]) for t in range(length)]
        last = [per_dir[0][length - 1]] + ([per_dir[1][0]] if len(per_dir) > 1 else [])
    W, b = P["output.weight"], P["output.bias"]
    if spec["return_sequences"]:
        return np.array([W @ h + b for h in xs])
    return W @ np.concatenate(last) + b


def row_loss(loss, z, y):
    if loss == "softmax":
        return -(y @ (z - z.max() - np.log(np.exp(z - z.max()).sum())))
    if loss == "logistic":
        return np.sum(np.log1p(np.exp(z)) - y * z)
    return 0.5 * np.sum((z - y) ** 2)


def reference_loss(spec, P, seqs, targets, weights, alpha, frozen):
    """``(sum_i w_i l_i + alpha/2 ||W||^2) / sum_i w_i``; per-step rows count each."""
    total, norm = 0.0, 0.0
    for i, (x, y, w) in enumerate(zip(seqs, targets, weights, strict=True)):
        x = x.toarray() if sp.issparse(x) else x
        z = reference_outputs(spec, P, x, frozen, (i,))
        if spec["return_sequences"]:
            total += w * sum(row_loss(spec["loss"], z[t], y[t]) for t in range(len(x)))
            norm += w * len(x)
        else:
            total += w * row_loss(spec["loss"], z, y)
            norm += w
    penalty = 0.5 * alpha * sum(np.sum(v**2) for n, v in P.items() if "weight" in n)
    return (total + penalty) / norm
