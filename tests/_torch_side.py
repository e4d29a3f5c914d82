"""Run a model in PyTorch from saved weights; used by test_torch_crosscheck.py.

Runs in its own process (``python _torch_side.py DIR``: every ``DIR/*.in.npz`` gives
a ``DIR/*.out.npz``) so that torch's thread pool never shares a process with the
NumPy tests.
"""

import sys
from pathlib import Path

import numpy as np
import torch

MODULES = {"elman": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def main(path_in, path_out):
    data = dict(np.load(path_in, allow_pickle=True))
    cfg = data.pop("config").item()
    torch.set_default_dtype(torch.float64)
    kwargs = {"nonlinearity": cfg["activation"]} if cfg["cell"] == "elman" else {}
    rnn = MODULES[cfg["cell"]](
        cfg["n_features"],
        cfg["hidden"],
        cfg["layers"],
        bidirectional=cfg["bidirectional"],
        **kwargs,
    )
    head = torch.nn.Linear(cfg["hidden"] * (1 + cfg["bidirectional"]), cfg["n_out"])
    state = {
        k: torch.tensor(v) for k, v in data.items() if k.startswith(("weight", "bias"))
    }
    rnn.load_state_dict(state)
    head.load_state_dict(
        {
            "weight": torch.tensor(data["output.weight"]),
            "bias": torch.tensor(data["output.bias"]),
        }
    )
    X = torch.tensor(data["X"])  # (T, B, D), sorted by decreasing length
    lengths = torch.tensor(data["lengths"])
    packed = torch.nn.utils.rnn.pack_padded_sequence(X, lengths)
    out, h_n = rnn(packed)
    if cfg["cell"] == "lstm":
        h_n = h_n[0]
    if cfg["return_sequences"]:
        feats, _ = torch.nn.utils.rnn.pad_packed_sequence(out)
    elif cfg["bidirectional"]:
        feats = torch.cat([h_n[-2], h_n[-1]], dim=1)
    else:
        feats = h_n[-1]
    Z = head(feats)
    Y, W = torch.tensor(data["Y"]), torch.tensor(data["W"])
    log_p = torch.log_softmax(Z, dim=-1)
    loss = -(W * (Y * log_p).sum(-1)).sum() / W.sum()
    loss.backward()
    grads = {f"grad:{k}": p.grad.numpy() for k, p in rnn.named_parameters()}
    grads.update(
        {f"grad:output.{k}": p.grad.numpy() for k, p in head.named_parameters()}
    )
    np.savez(path_out, Z=Z.detach().numpy(), loss=loss.item(), **grads)


if __name__ == "__main__":
    for path in sorted(Path(sys.argv[1]).glob("*.in.npz")):
        main(path, str(path).replace(".in.npz", ".out.npz"))
