"""
=====================================================
Truncated backpropagation through time
=====================================================

Full backpropagation through time (BPTT) keeps every step's hidden state for
the backward pass, so its memory grows with the sequence length, and its
backward pass visits every step. ``bptt_truncate=k`` lets the gradient flow
back through only the last ``k`` steps of each sequence: the forward pass
still reads the whole sequence, but steps further back than ``k`` receive no
gradient, need no stored state, and cost no backward work.

The price is that the network can no longer *learn* dependencies longer than
``k`` steps: it may still carry information across them, but nothing in the
gradient tells it to. This example measures that trade-off: accuracy on a task
with a dependency of known length, and time and peak memory as ``k`` grows.
"""

# %%
# A task with a dependency of known length
# ----------------------------------------
# Each sequence is 50 steps of Gaussian noise, one feature per step. Its label
# is the sign of the value 10 steps before the end (at index ``T - 10``);
# everything else is distraction. To learn this, the gradient of the loss, read
# at the last step, must reach back to that step.
import time
import tracemalloc
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from sklearn_rnn import RNNClassifier

n_steps, lag = 50, 10
rng = np.random.RandomState(0)


def make_lag_task(n_sequences):
    X = rng.standard_normal((n_sequences, n_steps, 1)).astype(np.float32)
    y = (X[:, n_steps - lag, 0] > 0).astype(int)
    return X, y


X_train, y_train = make_lag_task(1000)
X_test, y_test = make_lag_task(500)

# %%
# Accuracy against ``k``
# ----------------------
# We train the same Elman network with several truncation lengths, ``None``
# being full BPTT over all 50 steps. Runs that stop improving end early
# (after ``n_iter_no_change`` epochs without progress).
truncations = [5, 9, 10, 20, None]
accuracy = []
for k in truncations:
    model = RNNClassifier(
        cell="elman",
        hidden_layer_sizes=(16,),
        learning_rate_init=0.01,
        batch_size=50,
        max_iter=30,
        bptt_truncate=k,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    accuracy.append(model.score(X_test, y_test))
    print(f"bptt_truncate={k!s:>4}: test accuracy {accuracy[-1]:.3f}"
          f" ({model.n_iter_} epochs)")

# %%
# The result is a step, not a slope. With ``k = 9`` the gradient stops one step
# short of the informative input and the network stays near chance level
# (0.5); with ``k = 10`` it reaches it, and learns the task as well as full
# BPTT does. Truncation that covers the dependency costs nothing in accuracy.
#
# Time and memory against ``k``
# -----------------------------
# The data above are too small for cost to matter, so we measure it where it
# does: one update (``partial_fit`` on exactly one batch) on 100 sequences of
# 400 steps with 64 hidden units. ``tracemalloc`` reports the peak of memory
# allocated by Python and NumPy during the call. It slows allocations down, so
# the time is measured in separate calls without it: the best of five, as CPU
# time of this process (less disturbed by other programs than wall-clock
# time), with one BLAS thread, because on matrices this small a second thread
# adds more synchronisation noise than speed.
X_long = rng.standard_normal((100, 400, 1)).astype(np.float32)
y_long = (X_long[:, -lag, 0] > 0).astype(int)
long_truncations = [10, 50, 100, 200, None]


def one_update(k):
    model = RNNClassifier(cell="elman", hidden_layer_sizes=(64,), batch_size=100,
                          bptt_truncate=k, random_state=0)
    return model.partial_fit(X_long, y_long, classes=[0, 1])


peak_mb = []
for k in long_truncations:
    tracemalloc.start()
    one_update(k)
    peak_mb.append(tracemalloc.get_traced_memory()[1] / 1e6)
    tracemalloc.stop()

update_seconds = []
with threadpool_limits(limits=1):
    for k in long_truncations:
        timings = []
        for _ in range(5):
            start = time.process_time()
            one_update(k)
            timings.append(time.process_time() - start)
        update_seconds.append(min(timings))

for k, peak, seconds in zip(long_truncations, peak_mb, update_seconds, strict=True):
    print(f"bptt_truncate={k!s:>4}: peak {peak:.1f} MB,"
          f" {1000 * seconds:.0f} ms for one update")

# %%
# Plots
# -----
# ``None`` is drawn at the full sequence length.
fig, axes = plt.subplots(1, 3, figsize=(13, 4))
k_axis = [n_steps if k is None else k for k in truncations]
axes[0].plot(k_axis, accuracy, "o-")
axes[0].axvline(lag, color="gray", linestyle="--", label="dependency length")
axes[0].set_ylabel("test accuracy")
axes[0].set_title(f"label = sign of x at step T - {lag} (T = {n_steps})")
axes[0].legend()
long_axis = [X_long.shape[1] if k is None else k for k in long_truncations]
axes[1].plot(long_axis, 1000 * np.array(update_seconds), "o-")
axes[1].set_ylabel("CPU time of one update (ms)")
axes[1].set_title(f"one update, B=100, T={X_long.shape[1]}, H=64")
axes[1].set_ylim(bottom=0)
axes[2].plot(long_axis, peak_mb, "o-")
axes[2].set_ylabel("peak memory of one update (MB)")
axes[2].set_title(f"one update, B=100, T={X_long.shape[1]}, H=64")
for ax in axes:
    ax.set_xlabel("bptt_truncate (k)")
axes[2].set_ylim(bottom=0)
fig.tight_layout()
plt.show()

# %%
# Memory grows linearly with ``k`` rather than with the sequence length, and
# the time saved is the backward work on the steps left out (the forward pass
# over all steps remains); the accuracy, though, collapses as soon as ``k`` is
# shorter than the dependency the task needs, so choose ``k`` from what the
# data must remember, not from the budget.
