"""
==========================================================
Per-step forecasting of a chaotic system
==========================================================

The Lorenz system is three coupled differential equations whose solution
never settles and never repeats: a classic example of deterministic chaos. We
observe only its first coordinate, ``x(t)``, and ask a recurrent network to
forecast, at every time step, the value of ``x`` a fixed time ahead.

A single value ``x(t)`` is not enough for that: the same ``x`` occurs on both
wings of the attractor, moving in either direction, with the unobserved ``y``
and ``z`` deciding what comes next. A model has to infer that hidden state
from the recent history of ``x``. A recurrent network does this naturally:
its hidden state is a running summary of everything it has read. With
``return_sequences=True``, :class:`~sklearn_rnn.RNNSequenceRegressor` emits a
prediction at every step, so one sequence gives one training target per step.
"""

# %%
# Simulating the system
# ---------------------
# We integrate the equations with SciPy at the classic parameters
# (``sigma=10, rho=28, beta=8/3``), sample every 0.02 time units, drop the
# transient before the trajectory reaches the attractor, and scale ``x`` by
# 1/10 so it is of order one. The first 70% of the trajectory is used for
# training, the rest for testing, so the test windows are segments of the
# trajectory the model has never seen.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy.integrate import solve_ivp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge

from sklearn_rnn import RNNSequenceRegressor


def lorenz(t, state, sigma=10.0, rho=28.0, beta=8.0 / 3.0):
    x, y, z = state
    return [sigma * (y - x), x * (rho - z) - y, x * y - beta * z]


dt, n_samples, transient = 0.02, 12_000, 500
times = np.arange(n_samples) * dt
solution = solve_ivp(lorenz, (0.0, times[-1]), [1.0, 1.0, 1.0], t_eval=times,
                     rtol=1e-8, atol=1e-8)
x = solution.y[0, transient:] / 10.0
split = int(0.7 * len(x))
x_train, x_test = x[:split], x[split:]

# %%
# Windows with per-step targets
# -----------------------------
# Each example is a window of 80 consecutive values. Its target is the same
# window shifted ``horizon = 10`` steps (0.2 time units) into the future: at
# step ``t`` the model reads ``x[:t + 1]`` and must output ``x[t + 10]``.
# ``X`` has shape ``(n_windows, 80, 1)`` (one feature per step) and ``y`` is a
# list of per-step target arrays, one of length 80 per window.
n_steps, horizon = 80, 10
rng = np.random.RandomState(0)


def make_windows(signal, n_windows):
    starts = rng.randint(0, len(signal) - n_steps - horizon, n_windows)
    X = np.stack([signal[s : s + n_steps] for s in starts])[:, :, None]
    y = [signal[s + horizon : s + horizon + n_steps] for s in starts]
    return X, y


X_train, y_train = make_windows(x_train, 300)
X_test, y_test = make_windows(x_test, 100)
Y_test = np.array(y_test)

# %%
# Two baselines
# -------------
# *Persistence* predicts that nothing changes: ``x[t + 10] = x[t]``. A *linear
# autoregressive* model, a ridge regression on the last 8 values, is the
# classical forecaster; it sees a fixed window of history and is linear in it.


def last_values(X, n_lags=8):
    """(n, T, 1) windows -> (n, T, n_lags): the n_lags latest values at each step
    (the first value repeated where the window has no history yet)."""
    padded = np.pad(X[:, :, 0], ((0, 0), (n_lags - 1, 0)), mode="edge")
    return np.stack([padded[:, i : i + X.shape[1]] for i in range(n_lags)], axis=2)


def mse_per_step(Y_pred):
    return ((Y_pred - Y_test) ** 2).mean(axis=0)


lags_train, lags_test = last_values(X_train), last_values(X_test)
ridge = Ridge(alpha=1e-3).fit(lags_train.reshape(-1, lags_train.shape[2]),
                              np.concatenate(y_train))
predictions = {
    "persistence": X_test[:, :, 0],
    "ridge on last 8 values": ridge.predict(
        lags_test.reshape(-1, lags_test.shape[2])).reshape(Y_test.shape),
}

# %%
# The recurrent forecaster
# ------------------------
# A GRU with 32 hidden units, one output per step. ``predict`` returns a list
# with one array of per-step forecasts per window.
gru = RNNSequenceRegressor(
    cell="gru",
    hidden_layer_sizes=(32,),
    return_sequences=True,
    learning_rate_init=0.01,
    batch_size=20,
    max_iter=15,
    random_state=0,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    gru.fit(X_train, y_train)
predictions["GRU"] = np.array(gru.predict(X_test))

print(f"variance of the target: {Y_test.var():.4f}")
for name, Y_pred in predictions.items():
    per_step = mse_per_step(Y_pred)
    print(f"{name:>24}: test MSE {per_step.mean():.4f},"
          f" after the first 20 steps {per_step[20:].mean():.4f}")

# %%
# Plots
# -----
# Left, one test window: the observed input, the true future and the
# forecasts. Right, the test error at each position in the window. The GRU
# starts every window from a zero hidden state, knowing nothing about where on
# the attractor it is, so its first forecasts are poor; after a dozen or so
# steps of reading, its state has pinned down the trajectory and the error
# drops far below that of the linear model, which never improves with more
# history because it only ever looks at 8 values.
fig, (ax_series, ax_error) = plt.subplots(1, 2, figsize=(13, 4))
window = 0
steps = np.arange(n_steps)
ax_series.plot(steps, X_test[window, :, 0], color="lightgray", lw=3,
               label="input x[t]")
ax_series.plot(steps, Y_test[window], color="black", label="target x[t + 10]")
styles = {"persistence": ":", "ridge on last 8 values": "--", "GRU": "-"}
colors = {"persistence": "tab:gray", "ridge on last 8 values": "tab:blue",
          "GRU": "tab:orange"}
for name in ("ridge on last 8 values", "GRU"):
    ax_series.plot(steps, predictions[name][window], styles[name],
                   color=colors[name], label=name)
ax_series.set_xlabel("step t in the window")
ax_series.set_ylabel("x / 10")
ax_series.set_title("one test window")
ax_series.legend(fontsize="small")
for name, Y_pred in predictions.items():
    ax_error.semilogy(steps, mse_per_step(Y_pred), styles[name],
                      color=colors[name], label=name)
ax_error.set_xlabel("step t in the window")
ax_error.set_ylabel("test MSE at step t")
ax_error.set_title(f"forecasting {horizon} steps ({horizon * dt:.1f} time units) ahead")
ax_error.legend(fontsize="small")
fig.tight_layout()
plt.show()

# %%
# Reading a single coordinate of a chaotic system, the GRU builds in its
# hidden state enough of the unobserved state to forecast 0.2 time units ahead
# with an error far below the linear autoregressive baseline's, once it has
# read the first steps of a window.
