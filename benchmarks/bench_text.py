"""Time and peak memory of BagOfWordsSequencer + RNNClassifier on a large vocabulary.

Fits ``make_pipeline(BagOfWordsSequencer(max_features=20_000), RNNClassifier())``
on 10,000 synthetic documents (10 to 90 tokens each, words drawn from a Zipf-like
distribution over 30,000 pseudo-words, so that ``max_features`` keeps exactly
20,000 words and the rest map to ``"<unk>"``), one cell per row. It prints the
time of the whole ``fit`` (tokenising included), of ``transform`` and ``predict``
alone, and the process's peak resident memory next to what a dense one-hot input
would need: the padded tensor ``(n_docs, longest, n_columns)`` that a 3-D array
input takes, and a single padded batch of it.

Each row runs in a fresh worker process, so peaks do not carry over between rows;
"peak RSS" is the whole process (interpreter, NumPy, scikit-learn, the documents
and their sequences included), "fit growth" how much the peak rose during ``fit``.

Usage::

    python benchmarks/bench_text.py            # elman, lstm, gru, one epoch each
    python benchmarks/bench_text.py --cells gru --epochs 3 --hidden 128
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings

N_DOCS = 10_000
N_VOCABULARY = 20_000
N_WORDS = 30_000  # pseudo-words drawn; the 10,000 rarest become "<unk>"
MIN_TOKENS, MAX_TOKENS = 10, 90
FLOAT32_BYTES = 4


def make_corpus(seed=0):
    """Documents of pseudo-words and labels that depend on the word order."""
    import numpy as np

    rng = np.random.default_rng(seed)
    words = np.asarray([f"w{rank:05d}" for rank in range(N_WORDS)])
    weights = 1.0 / (np.arange(N_WORDS) + 10.0)
    lengths = rng.integers(MIN_TOKENS, MAX_TOKENS + 1, size=N_DOCS)
    ranks = rng.choice(N_WORDS, size=lengths.sum(), p=weights / weights.sum())
    starts = np.concatenate([[0], np.cumsum(lengths)])
    documents = [
        " ".join(words[ranks[start:stop]])
        for start, stop in zip(starts[:-1], starts[1:], strict=True)
    ]
    # Label: is the last word more frequent than the first?
    labels = ranks[starts[1:] - 1] < ranks[starts[:-1]]
    return documents, labels.astype(int)


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def run_worker(cell, hidden, epochs, batch_size):
    """Fit one pipeline and print its measurements as one JSON line."""
    from sklearn.pipeline import make_pipeline

    from sklearn_rnn import BagOfWordsSequencer, RNNClassifier

    documents, labels = make_corpus()
    pipeline = make_pipeline(
        BagOfWordsSequencer(max_features=N_VOCABULARY),
        RNNClassifier(
            cell=cell,
            hidden_layer_sizes=(hidden,),
            batch_size=batch_size,
            max_iter=epochs,
            random_state=0,
        ),
    )
    rss_before_fit = peak_rss_bytes()
    start, start_cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after few epochs
        pipeline.fit(documents, labels)
    fit_seconds = time.perf_counter() - start
    fit_cpu_seconds = time.process_time() - start_cpu
    rss_after_fit = peak_rss_bytes()

    start = time.perf_counter()
    sequences = pipeline[0].transform(documents)
    transform_seconds = time.perf_counter() - start
    lengths = [sequence.shape[0] for sequence in sequences]
    n_columns = sequences[0].shape[1]
    if n_columns != N_VOCABULARY + 1:
        raise RuntimeError(f"expected {N_VOCABULARY + 1} columns, got {n_columns}")
    del sequences
    start = time.perf_counter()
    pipeline.predict(documents)
    predict_seconds = time.perf_counter() - start
    model = pipeline[-1]
    print(
        json.dumps(
            {
                "cell": cell,
                "hidden": hidden,
                "epochs": model.n_iter_,
                "n_tokens": sum(lengths),
                "longest": max(lengths),
                "n_columns": n_columns,
                "transform_s": transform_seconds,
                "fit_s": fit_seconds,
                "fit_cpu_s": fit_cpu_seconds,
                "predict_s": predict_seconds,
                "peak_rss": rss_after_fit,
                "fit_growth": rss_after_fit - rss_before_fit,
                "weights": sum(w.nbytes for w in model.get_weights().values()),
            }
        )
    )


def measure(cell, args):
    command = [
        sys.executable,
        __file__,
        "--worker",
        cell,
        "--hidden",
        str(args.hidden),
        "--epochs",
        str(args.epochs),
        "--batch-size",
        str(args.batch_size),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def human(n_bytes):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n_bytes < 1000 or unit == "TB":
            return f"{n_bytes:,.0f} {unit}" if unit == "B" else f"{n_bytes:,.1f} {unit}"
        n_bytes /= 1000
    return None


def print_table(rows, args):
    first = rows[0]
    padded_step_bytes = first["longest"] * first["n_columns"] * FLOAT32_BYTES
    dense_tensor = N_DOCS * padded_step_bytes
    dense_batch = args.batch_size * padded_step_bytes
    print(
        f"{N_DOCS:,} documents, {first['n_tokens']:,} tokens "
        f"({MIN_TOKENS}-{MAX_TOKENS} per document), vocabulary {N_VOCABULARY:,} "
        f"+ <unk> = {first['n_columns']:,} columns; hidden={args.hidden}, "
        f"batch_size={args.batch_size}, {args.epochs} epoch(s), float32"
    )
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )
    print(
        f"Dense one-hot input would need: {human(dense_tensor)} for the padded "
        f"tensor (n_docs x {first['longest']} x {first['n_columns']:,}), "
        f"{human(dense_batch)} for one padded batch."
    )
    header = (
        f"{'cell':<6}{'fit s':>8}{'fit CPU s':>11}{'k tokens/s':>12}"
        f"{'transform s':>13}{'predict s':>11}{'peak RSS':>11}{'fit growth':>12}"
        f"{'weights':>10}{'dense/peak':>12}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        tokens_per_second = row["n_tokens"] * row["epochs"] / row["fit_s"]
        print(
            f"{row['cell']:<6}{row['fit_s']:>8.1f}{row['fit_cpu_s']:>11.1f}"
            f"{tokens_per_second / 1e3:>12.1f}{row['transform_s']:>13.1f}"
            f"{row['predict_s']:>11.1f}{human(row['peak_rss']):>11}"
            f"{human(row['fit_growth']):>12}{human(row['weights']):>10}"
            f"{dense_tensor / row['peak_rss']:>11,.0f}x"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=["elman", "lstm", "gru"])
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.hidden, args.epochs, args.batch_size)
        return
    rows = [measure(cell, args) for cell in args.cells]
    print_table(rows, args)


if __name__ == "__main__":
    main()
