"""PyTorch side of the benchmark: ``nn.RNN/LSTM/GRU`` + ``nn.Linear`` + Adam.

Started by ``bench_training.py`` in its own process (torch's OpenMP pool and
NumPy's OpenBLAS pool starve each other when they share one), with the thread
count in the environment and in ``torch.set_num_threads``.  Same JSON protocol as
``_worker_numpy.py``.
"""

import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import N_CLASSES, Case, EpochTimer, batch_slices, make_data, serve  # noqa: E402

MODULES = {"elman": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
DTYPES = {"float32": torch.float32, "float64": torch.float64}


class TorchCase:
    """Model, Adam and prebuilt time-major batches (T, B, D) for one case."""

    def __init__(self, case):
        _, _, D, H = case.size
        dtype = DTYPES[case.dtype]
        torch.manual_seed(0)
        self.rnn = MODULES[case.cell](D, H).to(dtype)
        self.head = torch.nn.Linear(H, N_CLASSES).to(dtype)
        params = list(self.rnn.parameters()) + list(self.head.parameters())
        self.adam = torch.optim.Adam(params, lr=1e-3)
        X, y = make_data(case)
        self.batches = [
            (
                torch.from_numpy(X[rows]).transpose(0, 1).contiguous(),
                torch.from_numpy(y[rows]),
            )
            for rows in batch_slices(case)
        ]

    def train_epoch(self):
        for X, y in self.batches:
            self.adam.zero_grad(set_to_none=True)
            out, _ = self.rnn(X)
            loss = torch.nn.functional.cross_entropy(self.head(out[-1]), y)
            loss.backward()
            self.adam.step()

    def infer_epoch(self):
        with torch.inference_mode():
            for X, _ in self.batches:
                out, _ = self.rnn(X)
                torch.softmax(self.head(out[-1]), dim=-1)


class Worker:
    def __init__(self):
        self.models = {}
        self.timer = EpochTimer(self.run)

    def run(self, op, case, n_epochs):
        if case.key() not in self.models:
            self.models[case.key()] = TorchCase(case)
        model = self.models[case.key()]
        epoch = model.train_epoch if op == "train" else model.infer_epoch
        for _ in range(n_epochs):
            epoch()

    def handle(self, request):
        case = Case.from_dict(request["case"])
        return {"seconds": self.timer(request["op"], case, request["min_seconds"])}


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    serve(Worker().handle)
