"""Demo: ``python -m sklearn_rnn`` trains on scikit-learn's digits read as sequences.

Each 8x8 image is read row by row: a sequence of 8 time steps with 8 features.
Prints test accuracy and training time for LSTM, GRU and Elman classifiers, next
to scikit-learn's MLPClassifier on the flattened images.
"""

import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from sklearn_rnn import RNNClassifier


def main():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).reshape(-1, 8, 8)  # (n_samples, n_timesteps=8 rows, n_features=8)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    print(f"digits as sequences: {len(X_train)} train / {len(X_test)} test, "
          f"{X.shape[1]} steps x {X.shape[2]} features\n")
    print(f"{'model':<28}{'test accuracy':>14}{'fit seconds':>13}")
    models = {
        f"RNNClassifier({cell})": RNNClassifier(
            cell=cell, hidden_layer_sizes=(64,), learning_rate_init=0.01,
            batch_size=32, max_iter=40, random_state=0)
        for cell in ("lstm", "gru", "elman")
    }
    models["MLPClassifier (flattened)"] = MLPClassifier(
        hidden_layer_sizes=(64,), max_iter=300, random_state=0)
    for name, model in models.items():
        flat = name.startswith("MLP")
        Xtr, Xte = (X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1)
                    ) if flat else (X_train, X_test)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(Xtr, y_train)
        seconds = time.perf_counter() - start
        print(f"{name:<28}{model.score(Xte, y_test):>14.4f}{seconds:>13.1f}")


if __name__ == "__main__":
    main()
