"""
==========================================
Quick start: reading digits row by row
==========================================

A recurrent network reads its input one time step at a time and carries a
hidden state from each step to the next. To see one at work without any
special data, we read scikit-learn's 8x8 digit images *as sequences*: each
image becomes 8 time steps (its rows, top to bottom), each step a vector of
8 pixel intensities. The network never sees the whole image at once; to name
the digit at the last row, it has to remember what the earlier rows looked
like.

This example fits an :class:`~sklearn_rnn.RNNClassifier` with early stopping
and plots its training loss and validation accuracy epoch by epoch.
"""

# %%
# Digits as sequences
# -------------------
# ``load_digits`` gives flat vectors of 64 pixels with values 0..16. Reshaping
# to ``(n_samples, 8, 8)`` makes the second axis time (the rows) and the last
# axis the features seen at each step (the 8 pixels of a row). Dividing by 16
# puts the inputs in [0, 1], the range where ``tanh`` and sigmoid gates are
# sensitive.
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sklearn_rnn import RNNClassifier

X, y = load_digits(return_X_y=True)
X = X.reshape(-1, 8, 8) / 16.0
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
print(f"train: {X_train.shape} (sequences, time steps, features per step)")

# %%
# Fitting an LSTM
# ---------------
# The estimator follows :class:`~sklearn.neural_network.MLPClassifier`:
# ``hidden_layer_sizes`` sets the size of the hidden state, ``solver="adam"``
# and ``learning_rate_init`` the optimizer. With ``early_stopping=True`` it
# holds out 10% of the training sequences, scores them after every epoch, stops
# once that score has not improved for ``n_iter_no_change`` epochs, and keeps
# the weights of the best epoch.
clf = RNNClassifier(
    cell="lstm",
    hidden_layer_sizes=(32,),
    learning_rate_init=0.01,
    batch_size=32,
    max_iter=60,
    early_stopping=True,
    n_iter_no_change=8,
    random_state=0,
)
clf.fit(X_train, y_train)
print(f"epochs run: {clf.n_iter_}")
print(f"best validation accuracy: {clf.best_validation_score_:.3f}")
print(f"test accuracy: {clf.score(X_test, y_test):.3f}")

# %%
# Once fitted, the model predicts like any scikit-learn classifier, and
# ``predict_proba`` gives one probability per class:
proba = clf.predict_proba(X_test[:1])
print(f"first test digit: true {y_test[0]}, predicted {clf.predict(X_test[:1])[0]}"
      f" with probability {proba.max():.2f}")

# %%
# Learning curves
# ---------------
# ``loss_curve_`` holds the mean training loss (cross-entropy) of each epoch and
# ``validation_scores_`` the accuracy on the held-out sequences. The loss keeps
# falling while the validation accuracy levels off: from then on, the network
# is mostly fitting details of the training set.
fig, ax_loss = plt.subplots(figsize=(6.4, 4))
epochs = range(1, clf.n_iter_ + 1)
ax_loss.plot(epochs, clf.loss_curve_, color="tab:blue", label="training loss")
ax_loss.set_xlabel("epoch")
ax_loss.set_ylabel("training loss (cross-entropy)", color="tab:blue")
ax_acc = ax_loss.twinx()
ax_acc.plot(epochs, clf.validation_scores_, color="tab:orange",
            label="validation accuracy")
ax_acc.set_ylabel("validation accuracy", color="tab:orange")
ax_loss.set_title("LSTM reading 8x8 digits row by row")
fig.tight_layout()
plt.show()

# %%
# An LSTM with 32 hidden units, reading only one row of pixels at a time and
# keeping the rest in its hidden state, names nearly all held-out digits
# correctly (the test accuracy printed above).
