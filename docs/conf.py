"""Sphinx configuration of the sklearn_rnn documentation.

Build (warnings are errors, the gallery is executed)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Intersphinx and the network
---------------------------
Links to scikit-learn, NumPy, SciPy, joblib and Python go through intersphinx.
Each project lists two inventory locations: its ``objects.inv`` on the web
first, then a small local inventory that this file writes under
``docs/_build/intersphinx/`` from ``FALLBACK_INVENTORIES`` below.  When the web
is reachable, the full remote inventories are used.  When it is not (offline
machines, firewalled CI), Sphinx logs the failed download at INFO level and
loads the local file, so ``sphinx-build -W`` still succeeds and the objects
these pages name still link to the right pages.  The environment variable
``SKLEARN_RNN_INTERSPHINX`` changes that:

- ``remote`` (default): the web, then the local fallback;
- ``local``: the local fallback only, never the network (fast and
  reproducible; use it where connections hang instead of failing);
- ``off``: no intersphinx at all; references to other projects render as
  plain text.

The fallback inventories are written by hand from the projects' stable URL
schemes; they hold only the objects these documents refer to.  Add an entry
when a page starts naming a new outside object.
"""

import os
import zlib
from pathlib import Path

import sklearn_rnn

project = "sklearn_rnn"
author = "The sklearn_rnn developers"
copyright = "2026, The sklearn_rnn developers"
release = sklearn_rnn.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
default_role = "literal"
root_doc = "index"

# -- API reference -------------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn_rnn {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path = []

# -- Gallery -------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "doc_module": ("sklearn_rnn",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {},
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "plot_gallery": "True",
}

# -- Intersphinx (see the module docstring) -----------------------------------
_FALLBACK_DIR = Path(__file__).parent / "_build" / "intersphinx"

# project -> (base URL, version, entries); an entry is (name, domain:role, URI)
# or (name, "std:label", URI, title).  A URI ending in "$" stands for the URI
# followed by the object's name (the inventory format's shorthand).
FALLBACK_INVENTORIES = {
    "sklearn": (
        "https://scikit-learn.org/stable/",
        "stable",
        [
            (f"sklearn.{name}", "py:class", f"modules/generated/sklearn.{name}.html#$")
            for name in (
                "base.BaseEstimator",
                "compose.TransformedTargetRegressor",
                "exceptions.ConvergenceWarning",
                "feature_extraction.text.CountVectorizer",
                "model_selection.GridSearchCV",
                "model_selection.RandomizedSearchCV",
                "model_selection.StratifiedKFold",
                "neural_network.MLPClassifier",
                "neural_network.MLPRegressor",
                "pipeline.Pipeline",
                "preprocessing.StandardScaler",
            )
        ]
        + [
            (
                f"sklearn.{name}",
                "py:function",
                f"modules/generated/sklearn.{name}.html#$",
            )
            for name in (
                "datasets.load_digits",
                "model_selection.cross_val_score",
                "model_selection.cross_validate",
                "model_selection.train_test_split",
                "pipeline.make_pipeline",
            )
        ]
        + [
            # Inherited docstrings (get_metadata_routing) refer to this label.
            (
                "metadata_routing",
                "std:label",
                "metadata_routing.html#metadata-routing",
                "Metadata Routing",
            ),
        ],
    ),
    "numpy": (
        "https://numpy.org/doc/stable/",
        "stable",
        [
            ("numpy.ndarray", "py:class", "reference/generated/numpy.ndarray.html#$"),
            ("numpy.float32", "py:attribute", "reference/arrays.scalars.html#$"),
            ("numpy.float64", "py:attribute", "reference/arrays.scalars.html#$"),
            ("numpy.clip", "py:function", "reference/generated/numpy.clip.html#$"),
        ],
    ),
    "scipy": (
        "https://docs.scipy.org/doc/scipy/",
        "stable",
        [
            (
                "scipy.sparse.csr_matrix",
                "py:class",
                "reference/generated/scipy.sparse.csr_matrix.html#$",
            ),
            (
                "scipy.optimize.minimize",
                "py:function",
                "reference/generated/scipy.optimize.minimize.html#$",
            ),
        ],
    ),
    "joblib": (
        "https://joblib.readthedocs.io/en/stable/",
        "stable",
        [
            (f"joblib.{name}", "py:class", f"generated/joblib.{name}.html#$")
            for name in ("parallel_backend", "parallel_config")
        ],
    ),
    "python": (
        "https://docs.python.org/3/",
        "3",
        [("pickle", "py:module", "library/pickle.html#module-$")],
    ),
}


def _write_fallback_inventory(name, version, entries):
    """Write a Sphinx version-2 ``objects.inv`` for ``entries``; return its path."""
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {name}\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    lines = []
    for obj, role, uri, *title in sorted(entries):
        priority = "-1" if role == "std:label" else "1"
        lines.append(f"{obj} {role} {priority} {uri} {title[0] if title else '-'}\n")
    body = "".join(lines)
    _FALLBACK_DIR.mkdir(parents=True, exist_ok=True)
    path = _FALLBACK_DIR / f"{name}-objects.inv"
    path.write_bytes(header.encode() + zlib.compress(body.encode()))
    return str(path)


def _intersphinx_mapping(mode):
    if mode not in {"remote", "local", "off"}:
        raise ValueError(
            f"SKLEARN_RNN_INTERSPHINX must be 'remote', 'local' or 'off'; got {mode!r}."
        )
    if mode == "off":
        return {}
    mapping = {}
    for name, (url, inv_version, entries) in FALLBACK_INVENTORIES.items():
        local = _write_fallback_inventory(name, inv_version, entries)
        mapping[name] = (url, (local,) if mode == "local" else (None, local))
    return mapping


intersphinx_mapping = _intersphinx_mapping(
    os.environ.get("SKLEARN_RNN_INTERSPHINX", "remote")
)
intersphinx_timeout = 10
