"""Output activations and losses, keyed by the loss name.

Each loss takes raw outputs (logits) ``Z`` of shape ``(..., n_outputs)``, targets
``Y`` of the same shape and per-row weights ``w`` of shape ``Z.shape[:-1]``, and
returns the weighted *sum* of per-row losses and its gradient with respect to
``Z``.  Dividing by the total weight is the caller's job, so that sequence-to-one
and per-step outputs share one normalisation rule.
"""

import numpy as np
from scipy.special import expit


def softmax(Z):
    """Row-wise softmax (a new array)."""
    P = Z - Z.max(axis=-1, keepdims=True)
    np.exp(P, out=P)
    P /= P.sum(axis=-1, keepdims=True)
    return P


def identity(Z):
    return Z


def softmax_cross_entropy(Z, Y, w):
    """``-sum_k y_k log softmax(z)_k``; gradient ``softmax(z) - y``."""
    shifted = Z - Z.max(axis=-1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    log_p = shifted - log_norm
    loss = -np.sum(w * np.sum(Y * log_p, axis=-1))
    dZ = np.exp(log_p)
    dZ -= Y
    dZ *= w[..., None]
    return loss, dZ


def binary_cross_entropy(Z, Y, w):
    """``-[y log s(z) + (1 - y) log(1 - s(z))]`` summed over outputs.

    Written as ``softplus(z) - y z``, which never takes the log of 0.
    """
    softplus = np.logaddexp(0.0, Z)
    loss = np.sum(w * np.sum(softplus - Y * Z, axis=-1))
    dZ = expit(Z)
    dZ -= Y
    dZ *= w[..., None]
    return loss, dZ


def squared_error(Z, Y, w):
    """``0.5 * sum_k (z_k - y_k)**2``; gradient ``z - y``."""
    dZ = Z - Y
    loss = 0.5 * np.sum(w * np.sum(dZ * dZ, axis=-1))
    dZ *= w[..., None]
    return loss, dZ


LOSSES = {
    "softmax": softmax_cross_entropy,
    "logistic": binary_cross_entropy,
    "squared_error": squared_error,
}

OUTPUT_ACTIVATIONS = {
    "softmax": softmax,
    "logistic": expit,
    "squared_error": identity,
}
