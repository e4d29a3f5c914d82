"""NumPy side of the benchmark: sklearn_rnn's engine and estimator.

Started by ``bench_training.py`` with the thread count in the environment; reads
one JSON request per line on stdin and answers one JSON line on stdout.  It never
imports torch.
"""

import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import (  # noqa: E402
    N_CLASSES,
    N_GATES,
    Case,
    EpochTimer,
    batch_slices,
    make_data,
    serve,
)
from _lean import lean_pass  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from sklearn_rnn import RNNClassifier  # noqa: E402
from sklearn_rnn._base import blas_threads_for  # noqa: E402
from sklearn_rnn._core._bptt import Batch, batch_sizes_from_lengths  # noqa: E402
from sklearn_rnn._core._network import RecurrentNetwork  # noqa: E402
from sklearn_rnn._core._optimizers import AdamOptimizer  # noqa: E402
from sklearn_rnn._core._workspace import Workspace, borrowed_workspace  # noqa: E402


class EngineCase:
    """Network, Adam and prebuilt time-major batches for one case.

    Scratch memory and threads are handled as the estimators handle them: one
    ``Workspace`` lent from step to step for training (``fit`` borrows one per
    call), one borrowed for each inference pass as ``predict`` borrows one
    (``borrowed_workspace``: kept from one pass to the next), and one BLAS
    thread when the per-step products are small (the estimators' rule,
    ``blas_threads_for``, applied to the batch's rows).
    """

    def __init__(self, case):
        B, T, D, H = case.size
        self.case = case
        self.X, self.y = make_data(case)
        self.net = RecurrentNetwork(case.cell, D, (H,), N_CLASSES, loss="softmax")
        self.params = self.net.init_params(np.random.default_rng(0), dtype=case.dtype)
        self.adam = AdamOptimizer(self.params, 1e-3)
        self.workspace = Workspace()
        self.lean = None  # made on first use, by lean_epoch
        lengths = np.full(B, T)
        sizes = batch_sizes_from_lengths(lengths, T)
        self.threads = blas_threads_for(self.estimator(max_iter=1), B)
        self.batches = []
        for rows in batch_slices(case):
            X = self.X[rows].transpose(1, 0, 2)
            X = np.ascontiguousarray(X).reshape(T * B, D)
            Y = np.eye(N_CLASSES, dtype=case.dtype)[self.y[rows]]
            W = np.ones(B, case.dtype)
            self.batches.append((Batch(X, lengths, sizes), Y, W))

    def estimator(self, max_iter):
        return RNNClassifier(
            cell=self.case.cell,
            hidden_layer_sizes=(self.case.size.H,),
            batch_size=self.case.size.B,
            max_iter=max_iter,
            alpha=0.0,
            n_iter_no_change=10**6,
            random_state=0,
        )

    def train_epoch(self):
        for batch, Y, W in self.batches:
            _, grad = self.net.loss_and_grad(
                self.params, batch, Y, W, workspace=self.workspace
            )
            self.adam.update_params(self.params, grad)

    def infer_epoch(self):
        with borrowed_workspace() as workspace:
            for batch, _, _ in self.batches:
                self.net.predict(self.params, batch, workspace)

    def lean_epoch(self):
        """The same pass as the engine's NumPy calls alone (``_lean.py``)."""
        if self.lean is None:
            self.lean = lean_pass(self.case.cell, self.net, self.params, self.batches)
            with self.threads:
                ours = [self.net.predict(self.params, batch, Workspace())
                        for batch, _, _ in self.batches]
                lean = self.lean()
            if not all(np.array_equal(a, b) for a, b in zip(ours, lean, strict=True)):
                raise RuntimeError(f"the lean loop's output differs: {self.case}")
        return self.lean()

    def fit(self, n_epochs):
        """End-to-end ``RNNClassifier.fit`` on the same data for ``n_epochs``."""
        clf = self.estimator(max_iter=n_epochs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is tiny
            clf.fit(self.X, self.y)


FIT_EPOCHS = 5


def best_seconds(run, n_calls, repeats=3):
    """Best time of ``n_calls`` calls of ``run()`` in a row, over ``repeats``."""
    run()
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n_calls):
            run()
        best = min(best, time.perf_counter() - start)
    return best


def gemm_seconds(m, k, n, dtype, repeats=10):
    """Best time of ``(m, k) @ (k, n)`` over ``repeats`` runs."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((m, k)).astype(dtype)
    B = rng.standard_normal((k, n)).astype(dtype)
    C = np.empty((m, n), np.result_type(A, B))
    return best_seconds(lambda: np.matmul(A, B, out=C), 1, repeats)


# Values per hidden unit and step that go through a sigmoid or tanh in the
# forward pass: Elman h; LSTM i, f, g, o and tanh(c); GRU r, z, n.
ACTIVATED = {"elman": 1, "lstm": 5, "gru": 3}


def numpy_minimum(case, max_threads):
    """Seconds per epoch of the work no NumPy engine for ``case`` can skip.

    Per step: the recurrent product as one GEMM ``(B, H) x (H, G*H)``, one
    transcendental pass (the cheaper of ``np.exp`` and ``np.tanh``; any formula
    for sigmoid or tanh makes at least one) over the values the forward step
    activates, and in training the backward product ``(B, G*H) x (G*H, H)``.
    Per batch: the input projection and, in training, the two weight-gradient
    GEMMs.  Each is timed alone, hot in cache, writing into a preallocated
    output, at its best BLAS thread count up to ``max_threads``, best of 3 runs
    (the benchmark asks once per repeat and keeps the least).  Everything else
    an epoch does (the other elementwise passes, per-call overhead, the loss,
    Adam) is left out, so this is a lower bound on any NumPy engine's epoch:
    where it exceeds the target times torch's time, no NumPy engine meets that
    target.
    """
    B, T, D, H = case.size
    GH = N_GATES[case.cell] * H
    rng = np.random.default_rng(0)

    def array(*shape):
        return rng.standard_normal(shape).astype(case.dtype)

    h, W_hh_T, W_hh = array(B, H), array(H, GH), array(GH, H)
    dA_step, X, W_ih_T = array(B, GH), array(T * B, D), array(D, GH)
    dA, H_prev = array(T * B, GH), array(T * B, H)
    values = array(ACTIVATED[case.cell] * B * H)
    # Outputs written in place, as an engine can: no allocation is timed.
    gates, dh, proj = array(B, GH), array(B, H), array(T * B, GH)
    dW_hh, dW_ih, activated = array(GH, H), array(GH, D), np.empty_like(values)
    gemms = {
        "forward step": (lambda: np.matmul(h, W_hh_T, out=gates), T),
        "backward step": (lambda: np.matmul(dA_step, W_hh, out=dh), T),
        "projection": (lambda: np.matmul(X, W_ih_T, out=proj), 1),
        "weight gradients": (
            lambda: (np.matmul(dA.T, H_prev, out=dW_hh), np.matmul(dA.T, X, out=dW_ih)),
            1,
        ),
    }
    seconds = {}
    for name, (run, calls) in gemms.items():
        best = math.inf
        for threads in range(1, max_threads + 1):
            with threadpool_limits(threads):
                best = min(best, best_seconds(run, calls))
        seconds[name] = best
    seconds["activations"] = min(
        best_seconds(lambda f=f: f(values, out=activated), T)
        for f in (np.exp, np.tanh)
    )
    infer = seconds["forward step"] + seconds["activations"] + seconds["projection"]
    train = infer + seconds["backward step"] + seconds["weight gradients"]
    return {"train": case.n_batches * train, "infer": case.n_batches * infer}


class Worker:
    def __init__(self):
        self.engines = {}
        # A fit of one epoch would also time the weights' initialisation and the
        # first allocation of the scratch memory, which real fits (tens to
        # hundreds of epochs) spread thin; average over at least FIT_EPOCHS.
        self.timer = EpochTimer(self.run, min_epochs={"fit": FIT_EPOCHS})

    def run(self, op, case, n_epochs):
        if case.key() not in self.engines:
            self.engines[case.key()] = EngineCase(case)
        engine = self.engines[case.key()]
        if op == "fit":
            engine.fit(n_epochs)
            return
        epoch = {"train": engine.train_epoch, "infer": engine.infer_epoch,
                 "lean": engine.lean_epoch}[op]
        with engine.threads:
            for _ in range(n_epochs):
                epoch()

    def handle(self, request):
        if request["op"] == "gemm":
            m, k, n = request["shape"]
            seconds = gemm_seconds(m, k, n, request["dtype"])
            return {"seconds": seconds, "gflops": 2 * m * k * n / seconds / 1e9}
        case = Case.from_dict(request["case"])
        if request["op"] == "minimum":
            return numpy_minimum(case, request["threads"])
        if request["op"] == "fit":
            # The engine's epochs are timed right after the fit's, in the same
            # request, so that the two are compared under the same conditions:
            # timed minutes apart, they drift apart by 10 to 30% on this VM.
            fit = self.timer("fit", case, request["min_seconds"])
            engine = self.timer("train", case, request["min_seconds"])
            return {"seconds": fit, "engine_seconds": engine}
        return {"seconds": self.timer(request["op"], case, request["min_seconds"])}


if __name__ == "__main__":
    serve(Worker().handle)
