"""Optional: the engine matches PyTorch's nn.RNN/LSTM/GRU to 1e-10 in float64.

Skipped when torch is not installed.  PyTorch runs in a subprocess
(``_torch_side.py``) so that its thread pool never shares a process with NumPy.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _engine_helpers import make_batch, make_targets

from sklearn_rnn._core._network import RecurrentNetwork

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="torch is not installed"
)

CASES = [
    (cell, act, layers, bi, rs)
    for cell, act in [
        ("elman", "tanh"),
        ("elman", "relu"),
        ("lstm", "tanh"),
        ("gru", "tanh"),
    ]
    for layers in (1, 2)
    for bi in (False, True)
    for rs in (False, True)
]


def build_case(cell, activation, layers, bidirectional, return_sequences):
    """Our network, its loss and gradient, and the inputs torch needs."""
    rng = np.random.RandomState(0)
    D, H, n_out, lengths = 3, 4, 3, [6, 5, 5, 2]
    net = RecurrentNetwork(
        cell,
        D,
        (H,) * layers,
        n_out,
        bidirectional,
        activation,
        return_sequences,
        "softmax",
    )
    flat = net.init_params(rng) + 0.2 * rng.standard_normal(net.layout.size)
    seqs = [rng.standard_normal((n, D)) for n in lengths]
    shape = (lambda n: (n,)) if return_sequences else (lambda n: ())
    targets = [np.eye(n_out)[rng.randint(n_out, size=shape(n))] for n in lengths]
    batch, order = make_batch(seqs)
    Y, W = make_targets(
        targets, order, batch.lengths, return_sequences, np.ones(len(seqs))
    )
    loss, grad = net.loss_and_grad(flat, batch, Y, W)
    Z, _ = net.forward(flat, batch)
    config = dict(
        cell=cell,
        activation=activation,
        n_features=D,
        hidden=H,
        layers=layers,
        bidirectional=bidirectional,
        n_out=n_out,
        return_sequences=return_sequences,
    )
    T, B = batch.n_steps, batch.n_sequences
    torch_inputs = dict(
        config=np.array(config, dtype=object),
        X=batch.X.reshape(T, B, D),
        lengths=batch.lengths,
        Y=Y,
        W=W,
        **net.layout.views(flat),
    )
    ours = dict(loss=loss, Z=Z, grads=net.layout.views(grad), W=W)
    return ours, torch_inputs


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Run every case through PyTorch in one subprocess."""
    folder = tmp_path_factory.mktemp("torch")
    ours = {}
    for i, case in enumerate(CASES):
        ours[case], torch_inputs = build_case(*case)
        np.savez(folder / f"{i:03d}.in.npz", **torch_inputs)
    script = Path(__file__).with_name("_torch_side.py")
    subprocess.run([sys.executable, str(script), str(folder)], check=True, timeout=300)
    return {
        case: (ours[case], np.load(folder / f"{i:03d}.out.npz"))
        for i, case in enumerate(CASES)
    }


@pytest.mark.parametrize("case", CASES, ids=["-".join(map(str, c)) for c in CASES])
def test_outputs_and_gradients_match_pytorch(results, case):
    ours, theirs = results[case]
    return_sequences = case[-1]
    assert ours["loss"] == pytest.approx(float(theirs["loss"]), rel=1e-10)
    mask = (ours["W"] > 0)[..., None] if return_sequences else True
    np.testing.assert_allclose(
        np.where(mask, ours["Z"], 0),
        np.where(mask, theirs["Z"], 0),
        rtol=1e-10,
        atol=1e-12,
    )
    for name, g in ours["grads"].items():
        np.testing.assert_allclose(
            g, theirs[f"grad:{name}"], rtol=1e-10, atol=1e-12, err_msg=name
        )
