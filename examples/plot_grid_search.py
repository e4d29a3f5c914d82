"""
===========================================================
Tuning clipping and truncation with GridSearchCV
===========================================================

The recurrent estimators are ordinary scikit-learn estimators, so they fit in
a :class:`~sklearn.pipeline.Pipeline` and their parameters can be tuned by
:class:`~sklearn.model_selection.GridSearchCV` like any other. This example
tunes the two parameters that are specific to training recurrent networks:
``clip_norm``, which caps the length of each gradient step, and
``bptt_truncate``, which limits how many steps back the gradient flows.
"""

# %%
# A pipeline from flat images to sequences
# ----------------------------------------
# ``load_digits`` returns each image as a flat row of 64 pixels. The first step
# of the pipeline reshapes it into 8 rows of 8 pixels, a sequence of 8 time
# steps, and scales the pixels to [0, 1]; the second step is the recurrent
# classifier. Because the reshaping lives inside the pipeline, the search and
# the final model both take the data in its usual flat form.
#
# We deliberately train with plain stochastic gradient descent at a high
# learning rate (0.1 with momentum 0.9), a setting where the gradient steps can
# be too long and the choice of ``clip_norm`` matters (see
# :ref:`sphx_glr_auto_examples_plot_gradient_clipping.py`).
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_rnn import RNNClassifier


def images_to_row_sequences(X):
    """(n_samples, 64) flat 8x8 images -> (n_samples, 8 steps, 8 features)."""
    return np.asarray(X).reshape(len(X), 8, 8) / 16.0


X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=900, stratify=y, random_state=0
)
pipeline = Pipeline([
    ("rows", FunctionTransformer(images_to_row_sequences)),
    ("rnn", RNNClassifier(
        cell="elman",
        hidden_layer_sizes=(32,),
        solver="sgd",
        learning_rate_init=0.1,
        momentum=0.9,
        batch_size=32,
        max_iter=12,
        random_state=0,
    )),
])

# %%
# The search
# ----------
# Parameters of a pipeline step are addressed as ``<step>__<parameter>``. We
# try three clipping thresholds (``None`` is no clipping) and three truncation
# lengths (``None`` is full backpropagation through all 8 rows), with 3-fold
# cross-validation: 27 fits of a small network.
param_grid = {
    "rnn__clip_norm": [None, 5.0, 1.0],
    "rnn__bptt_truncate": [2, 4, None],
}
search = GridSearchCV(pipeline, param_grid, cv=3)
with warnings.catch_warnings():
    # 12 epochs are few for SGD; the estimator says so every time.
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X_train, y_train)

results = search.cv_results_
print(f"{'clip_norm':>10} {'bptt_truncate':>14} {'CV accuracy':>16} {'fit (s)':>8}")
for params, mean, std, fit_time in zip(
    results["params"], results["mean_test_score"], results["std_test_score"],
    results["mean_fit_time"], strict=True,
):
    print(f"{params['rnn__clip_norm']!s:>10} {params['rnn__bptt_truncate']!s:>14}"
          f" {mean:>9.3f} +- {std:.3f} {fit_time:>8.2f}")
print(f"best: {search.best_params_}")
print(f"test accuracy of the refitted best pipeline: "
      f"{search.score(X_test, y_test):.3f}")

# %%
# The results table as a heat map
# -------------------------------
# ``cv_results_`` lists the candidates in the order of ``ParameterGrid``
# (parameter names sorted, the last one varying fastest), so its scores reshape
# directly into a grid of ``bptt_truncate`` (rows) by ``clip_norm`` (columns).
clip_values = param_grid["rnn__clip_norm"]
truncate_values = param_grid["rnn__bptt_truncate"]
mean = results["mean_test_score"].reshape(len(truncate_values), len(clip_values))
std = results["std_test_score"].reshape(len(truncate_values), len(clip_values))

fig, ax = plt.subplots(figsize=(6, 4.5))
image = ax.imshow(mean, cmap="viridis", vmin=0.5, vmax=1.0)
for row in range(mean.shape[0]):
    for col in range(mean.shape[1]):
        ax.text(col, row, f"{mean[row, col]:.3f}\n+- {std[row, col]:.3f}",
                ha="center", va="center",
                color="white" if mean[row, col] < 0.8 else "black")
ax.set_xticks(range(len(clip_values)), [str(v) for v in clip_values])
ax.set_yticks(range(len(truncate_values)), [str(v) for v in truncate_values])
ax.set_xlabel("clip_norm")
ax.set_ylabel("bptt_truncate")
ax.set_title("3-fold CV accuracy, Elman network, SGD lr=0.1")
fig.colorbar(image, ax=ax, label="mean CV accuracy")
fig.tight_layout()
plt.show()

# %%
# Reading the table
# -----------------
# Without clipping, full backpropagation is the *least* reliable setting, with a
# large spread across folds: its gradients are products of the most Jacobians,
# so they can grow the largest, and at this learning rate large gradients mean
# steps that overshoot. Truncation shortens those products and here happens to
# stabilise training, but it also hides the first rows of the image from the
# gradient. A loose threshold, ``clip_norm=5``, gives exactly the same models as
# no clipping when the gradient is truncated (its norm never reaches 5 there)
# and helps little with full backpropagation. ``clip_norm=1`` removes the
# instability without hiding anything, and with it, the more steps the gradient
# may flow through, the better the model.

# %%
# The two parameters interact, which is why tuning them together, with
# cross-validation, tells more than tuning either alone.
