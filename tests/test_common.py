"""scikit-learn's estimator checks, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_rnn import BagOfWordsSequencer, RNNClassifier, RNNSequenceRegressor

# Small, fast settings. The "lbfgs" instances are full-batch and deterministic,
# which the sample-weight equivalence checks (integer weights == repeated rows)
# need: the two fits then differ only by the order of floating-point sums.  Those
# rounding differences grow along a non-convex optimisation path (measured: 1e-14
# after 10 L-BFGS iterations, 1e-9 after 20, diverging minima after 60 on the
# check's 15-sample data), so these instances stop after 15 iterations.
ESTIMATORS = [
    RNNClassifier(cell="gru", hidden_layer_sizes=(8,), solver="lbfgs", max_iter=15),
    RNNSequenceRegressor(cell="gru", hidden_layer_sizes=(8,), solver="lbfgs",
                         max_iter=15),
    RNNClassifier(cell="lstm", hidden_layer_sizes=(8,), max_iter=50, batch_size=16,
                  learning_rate_init=0.01),
    RNNSequenceRegressor(cell="elman", hidden_layer_sizes=(8,), max_iter=50,
                         batch_size=16, learning_rate_init=0.01),
    BagOfWordsSequencer(),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
