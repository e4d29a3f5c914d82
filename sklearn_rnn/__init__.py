"""Recurrent neural networks (Elman, LSTM, GRU) as scikit-learn estimators.

The estimators train a pure-NumPy backpropagation-through-time engine
(``sklearn_rnn._core``) and fit into Pipelines, GridSearchCV and pickle like
``MLPClassifier``.
"""

from ._base import ModelVersionWarning
from ._classifier import RNNClassifier
from ._regressor import RNNSequenceRegressor
from ._text import BagOfWordsSequencer

__all__ = [
    "BagOfWordsSequencer",
    "ModelVersionWarning",
    "RNNClassifier",
    "RNNSequenceRegressor",
]

__version__ = "0.1.0.dev0"
