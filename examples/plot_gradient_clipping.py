"""
=============================================
Exploding gradients and gradient clipping
=============================================

The gradient of a recurrent network is a product of one Jacobian per time
step. When those factors are smaller than one, it vanishes (see
:ref:`sphx_glr_auto_examples_plot_vanishing_gradients.py`); when some are larger
than one, it can *explode*: a single minibatch produces a gradient hundreds of
times larger than usual. With plain gradient descent the step is proportional
to the gradient, so one such batch throws the weights far away, often into a
region where the ``tanh`` units saturate and learning stops.

The usual remedy (Pascanu, Mikolov and Bengio, 2013) is to *clip* the
gradient: if its global L2 norm exceeds a threshold, rescale it to that norm.
Its direction is kept, only the step length is capped. The estimators do this
with ``clip_norm``; ``clip_value`` clips each entry instead.

Here we train the same Elman network three times, with stochastic gradient
descent at a deliberately high learning rate, without clipping and with two
clipping thresholds, and watch the gradient norm of every minibatch.
"""

# %%
# Data and a shared starting point
# --------------------------------
# The digits are read row by row, as in the quick start. Both runs must start
# from the same weights, so we draw them once with the engine's own
# initialisation and hand them to each estimator with ``set_weights``: a model
# initialised that way is then trained by ``partial_fit``.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sklearn_rnn import RNNClassifier
from sklearn_rnn._core._bptt import Batch, batch_sizes_from_lengths
from sklearn_rnn._core._network import RecurrentNetwork

X, y = load_digits(return_X_y=True)
X = X.reshape(-1, 8, 8) / 16.0
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
classes = np.unique(y)
n_steps, n_features, hidden = X.shape[1], X.shape[2], 32

network = RecurrentNetwork("elman", n_features, (hidden,), len(classes),
                           activation="tanh", loss="softmax")
flat = network.init_params(np.random.RandomState(0))
initial_weights = {name: view.copy()
                   for name, view in network.layout.views(flat).items()}

# %%
# Watching each minibatch's gradient
# ----------------------------------
# ``partial_fit`` on exactly ``batch_size`` sequences makes one optimizer
# update (the SGD momentum carries over between calls). Before each update we
# ask the engine for the loss and gradient of that minibatch at the current
# weights, ``RecurrentNetwork.loss_and_grad``, the same call the estimator
# makes internally, and record the gradient's norm *before* any clipping.


def minibatch_loss_and_grad_norm(weights, X_batch, y_batch, alpha):
    for name, view in network.layout.views(flat).items():
        view[...] = weights[name]
    n_sequences = len(X_batch)
    lengths = np.full(n_sequences, n_steps)
    time_major = X_batch.transpose(1, 0, 2).reshape(-1, n_features)
    batch = Batch(time_major, lengths, batch_sizes_from_lengths(lengths, n_steps))
    one_hot = np.eye(len(classes))[np.searchsorted(classes, y_batch)]
    loss, grad = network.loss_and_grad(flat, batch, one_hot,
                                       np.ones(n_sequences), alpha=alpha)
    return loss, np.linalg.norm(grad)


def train(clip_norm, n_epochs=10, batch_size=32, seed=0):
    model = RNNClassifier(
        cell="elman",
        hidden_layer_sizes=(hidden,),
        solver="sgd",
        learning_rate_init=0.1,
        momentum=0.9,
        batch_size=batch_size,
        clip_norm=clip_norm,
        random_state=seed,
    ).set_weights(initial_weights)
    rng = np.random.RandomState(seed)
    losses, grad_norms = [], []
    for _ in range(n_epochs):
        order = rng.permutation(len(X_train))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            loss, norm = minibatch_loss_and_grad_norm(
                model.get_weights(), X_train[rows], y_train[rows], model.alpha)
            losses.append(loss)
            grad_norms.append(norm)
            with warnings.catch_warnings():
                # Without clipping, a run may diverge; the estimator then warns
                # and keeps its last finite weights.
                warnings.simplefilter("ignore")
                model.partial_fit(X_train[rows], y_train[rows], classes=classes)
    return model, np.array(losses), np.array(grad_norms)


runs = {}
for clip_norm in (None, 5.0, 1.0):
    model, losses, grad_norms = train(clip_norm)
    runs[clip_norm] = (losses, grad_norms)
    clipped = np.mean(grad_norms > (clip_norm or np.inf))
    print(f"clip_norm={clip_norm}: gradient norm median {np.median(grad_norms):.2f},"
          f" max {grad_norms.max():.1f}; {clipped:.0%} of updates clipped;"
          f" loss over the last epoch {losses[-40:].mean():.3f};"
          f" test accuracy {model.score(X_test, y_test):.3f}")

# %%
# How often clipping acts matters. A threshold well above the typical norm
# touches only the rare spikes; a threshold near the typical norm rescales
# many updates, and then also works as an automatic reduction of the step size
# in the steep regions of the loss surface, where an unclipped step would
# overshoot.

# %%
# Plots
# -----
# Left, the gradient norm of every minibatch (before clipping, log scale);
# right, the minibatch loss, smoothed over 20 updates. All runs start alike.
# Without clipping, after a hundred or so updates the gradient norms drift up,
# the largest ones several times the typical size, and the loss climbs back
# up: at this learning rate a step proportional to a large gradient overshoots,
# landing where the gradient is larger still, and momentum carries each
# overshoot into the next steps. With ``clip_norm=1`` large raw gradients still
# occur, but each produces at most a step of length ``learning_rate * 1``
# (plus momentum), and the loss keeps falling.
labels = {None: "no clipping", 5.0: "clip_norm=5", 1.0: "clip_norm=1"}
colors = {None: "tab:red", 5.0: "tab:orange", 1.0: "tab:blue"}
fig, (ax_grad, ax_loss) = plt.subplots(1, 2, figsize=(12, 4))
window = np.ones(20) / 20
for clip_norm, (losses, grad_norms) in runs.items():
    ax_grad.semilogy(grad_norms, color=colors[clip_norm], alpha=0.7,
                     label=labels[clip_norm])
    smooth = np.convolve(losses, window, mode="valid")
    ax_loss.plot(np.arange(len(smooth)) + len(window) - 1, smooth,
                 color=colors[clip_norm], label=labels[clip_norm])
for clip_norm in (5.0, 1.0):
    ax_grad.axhline(clip_norm, color=colors[clip_norm], linestyle="--")
ax_grad.set_xlabel("update (minibatch of 32 sequences)")
ax_grad.set_ylabel("gradient norm before clipping")
ax_loss.set_xlabel("update")
ax_loss.set_ylabel("minibatch loss (moving average)")
ax_grad.legend()
ax_loss.legend()
fig.suptitle("Elman network, SGD with learning rate 0.1 and momentum 0.9")
fig.tight_layout()
plt.show()

# %%
# Clipping never changes the direction of an update, only caps its length; at
# this learning rate a threshold near the typical gradient norm turns a run
# that falls apart after its gradients blow up into one that keeps learning,
# while a loose threshold that trims only the rare spikes does not prevent it.
