"""Long sequences (sequence-to-one): time and peak memory of one training step.

Run in a fresh process per case by ``bench_training.py``:
``python _long_sequence.py CELL T TRUNCATE`` (TRUNCATE 0 means full BPTT) prints
one JSON line.  Peak memory is what ``tracemalloc`` sees NumPy allocate during
one ``loss_and_grad`` + Adam step, beyond the batch and parameters that exist
before it (the scratch memory the step leaves in its workspace for the next one
included); the process's peak resident set size is reported as well.  Steps
share one workspace, as the steps of a ``fit`` do.
"""

import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn_rnn._core._bptt import Batch, batch_sizes_from_lengths  # noqa: E402
from sklearn_rnn._core._network import RecurrentNetwork  # noqa: E402
from sklearn_rnn._core._optimizers import AdamOptimizer  # noqa: E402
from sklearn_rnn._core._workspace import Workspace  # noqa: E402

B, D, H, N_CLASSES = 32, 32, 128, 10
DTYPE = np.float64


def main(cell, T, truncate):
    rng = np.random.default_rng(0)
    net = RecurrentNetwork(cell, D, (H,), N_CLASSES, loss="softmax")
    params = net.init_params(rng, dtype=DTYPE)
    adam = AdamOptimizer(params, 1e-3)
    lengths = np.full(B, T)
    X = rng.standard_normal((T * B, D)).astype(DTYPE)
    batch = Batch(X, lengths, batch_sizes_from_lengths(lengths, T))
    Y = np.eye(N_CLASSES, dtype=DTYPE)[rng.integers(0, N_CLASSES, B)]
    W = np.ones(B, DTYPE)
    workspace = Workspace()

    def step():
        _, grad = net.loss_and_grad(params, batch, Y, W, bptt_truncate=truncate,
                                    workspace=workspace)
        adam.update_params(params, grad)

    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": float(np.median(times)),
        "peak_mb": (peak - base) / 2**20,
        "maxrss_mb": maxrss_kb / 2**10,
    }


if __name__ == "__main__":
    cell, T, truncate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(main(cell, T, truncate or None)))
