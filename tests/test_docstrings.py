"""Every constructor parameter and every fitted attribute is documented."""

import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_rnn import BagOfWordsSequencer, RNNClassifier, RNNSequenceRegressor


def documented_names(docstring, section):
    """Names listed as ``name : type`` in a numpydoc section of ``docstring``."""
    match = re.search(rf"\n    {section}\n    -+\n(.*?)(?:\n    \w[\w ]*\n    -+\n|$)",
                      docstring, flags=re.S)
    assert match, f"no {section} section"
    entries = re.findall(r"^    (\w+(?:, \w+)*) :", match.group(1), flags=re.M)
    return {name for entry in entries for name in entry.split(", ")}


def fitted(estimator):
    rng = np.random.RandomState(0)
    if isinstance(estimator, BagOfWordsSequencer):
        return estimator.fit(["the cat sat", "the dog ran"])
    X = rng.standard_normal((20, 3, 2))
    y = np.arange(20) % 2
    return estimator.set_params(max_iter=2, early_stopping=True).fit(X, y)


ESTIMATORS = [RNNClassifier(), RNNSequenceRegressor(), BagOfWordsSequencer()]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_every_parameter_is_documented(estimator):
    documented = documented_names(type(estimator).__doc__, "Parameters")
    assert set(estimator.get_params()) == documented


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_every_fitted_attribute_is_documented(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = fitted(estimator)
    public = {name for name in vars(model)
              if name.endswith("_") and not name.startswith("_")}
    documented = documented_names(type(estimator).__doc__, "Attributes")
    assert public <= documented, f"undocumented: {sorted(public - documented)}"
    # Documented but unset: only what needs a DataFrame to exist.
    assert documented - public <= {"feature_names_in_"}
