"""What both benchmark sides share: the cases, the data and the FLOP counts.

NumPy only: this module is imported by the NumPy worker and by the torch worker,
and must never import torch itself.
"""

import json
import math
import sys
import time
from typing import NamedTuple

import numpy as np

CELLS = ("elman", "lstm", "gru")
DTYPES = ("float32", "float64")
N_GATES = {"elman": 1, "lstm": 4, "gru": 3}
N_CLASSES = 10


class Size(NamedTuple):
    B: int  # sequences per batch
    T: int  # time steps
    D: int  # input features per step
    H: int  # hidden units

    def __str__(self):
        return f"B={self.B} T={self.T} D={self.D} H={self.H}"


SIZES = (Size(32, 28, 28, 64), Size(64, 50, 32, 128), Size(128, 100, 64, 256))
QUICK_SIZES = (Size(32, 28, 28, 64), Size(64, 50, 32, 128))


class Case(NamedTuple):
    cell: str
    dtype: str
    size: Size
    n_batches: int  # batches per epoch

    def key(self):
        return f"{self.cell}/{self.dtype}/{tuple(self.size)}/{self.n_batches}"

    @classmethod
    def from_dict(cls, d):
        return cls(d["cell"], d["dtype"], Size(*d["size"]), d["n_batches"])

    def to_dict(self):
        return {
            "cell": self.cell,
            "dtype": self.dtype,
            "size": list(self.size),
            "n_batches": self.n_batches,
        }


def make_data(case, seed=0):
    """``(X, y)``: ``X`` of shape (n_batches * B, T, D), labels in 0..9.

    All sequences have length T, so both sides run the same padded batches.
    """
    B, T, D, _ = case.size
    rng = np.random.default_rng(seed)
    n = case.n_batches * B
    X = rng.standard_normal((n, T, D)).astype(case.dtype)
    y = rng.integers(0, N_CLASSES, n)
    return X, y


def batch_slices(case):
    B = case.size.B
    return [slice(i * B, (i + 1) * B) for i in range(case.n_batches)]


def matmul_flops(case, training=True):
    """Matrix-product FLOPs of one epoch (all batches), counted as 2 per multiply-add.

    Forward: the input projection ``X W_ih^T`` and the recurrent products
    ``h W_hh^T``.  Backward: ``dA W_hh`` per step, and the weight gradients
    ``dA^T H_prev``, ``dA^T X``.  The small output layer is included.
    """
    B, T, D, H = case.size
    GH = N_GATES[case.cell] * H
    rows = T * B
    forward = 2 * rows * GH * (D + H) + 2 * B * H * N_CLASSES
    backward = 2 * rows * GH * (2 * H + D) + 4 * B * H * N_CLASSES
    per_batch = forward + backward if training else forward
    return case.n_batches * per_batch


class EpochTimer:
    """Seconds per epoch of ``run(op, case, n_epochs)``.

    The first request of an ``(op, case)`` pair runs one untimed epoch that fixes
    how many epochs each measurement averages over (enough to last
    ``min_seconds``), so that every repeat measures the same work.  Every request
    then runs one more untimed epoch before the timed ones: a worker that has sat
    idle while the other side ran takes 25 to 50% longer over its first epoch
    (measured here: caches, TLB and freed pages are cold), a cost that a real
    training run, whose epochs follow each other, does not pay.  Both sides get
    the same treatment.  ``min_epochs`` maps an op to the fewest epochs a
    measurement averages over.
    """

    def __init__(self, run, min_epochs=None):
        self.run = run
        self.epochs = {}
        self.min_epochs = min_epochs or {}

    def __call__(self, op, case, min_seconds):
        key = (op, case.key())
        if key not in self.epochs:
            start = time.perf_counter()
            self.run(op, case, 1)
            once = time.perf_counter() - start
            at_least = self.min_epochs.get(op, 1)
            self.epochs[key] = max(at_least, math.ceil(min_seconds / max(once, 1e-6)))
        n_epochs = self.epochs[key]
        self.run(op, case, 1)  # untimed: back to a warm steady state after idling
        start = time.perf_counter()
        self.run(op, case, n_epochs)
        return (time.perf_counter() - start) / n_epochs


def serve(handle):
    """Answer one JSON request per stdin line with one JSON line on stdout."""
    for line in sys.stdin:
        sys.stdout.write(json.dumps(handle(json.loads(line))) + "\n")
        sys.stdout.flush()
