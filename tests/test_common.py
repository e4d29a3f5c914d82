"""scikit-learn's estimator checks, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_rnn import BagOfWordsSequencer, RNNClassifier, RNNSequenceRegressor

# Small, fast settings. With batch_size="auto" (up to 200 sequences) every fit in
# the checks is full-batch, hence deterministic: the sample-weight equivalence
# checks (integer weights == repeated rows) then compare two fits that differ only
# in the order of floating-point sums.  Those rounding differences can grow along
# a non-convex optimisation path (measured for L-BFGS on the check's data: 1e-14
# after 10 iterations, 1e-9 after 20, different minima after 60), so the L-BFGS
# instance stops after 15 iterations; Adam stays within 1e-13 after 100 epochs.
ESTIMATORS = [
    RNNClassifier(cell="gru", hidden_layer_sizes=(8,), learning_rate_init=0.02,
                  max_iter=100),
    RNNSequenceRegressor(cell="gru", hidden_layer_sizes=(8,), learning_rate_init=0.02,
                         max_iter=100),
    RNNClassifier(cell="lstm", hidden_layer_sizes=(8,), solver="lbfgs", max_iter=15),
    RNNSequenceRegressor(cell="elman", hidden_layer_sizes=(8,), bidirectional=True,
                         learning_rate_init=0.02, max_iter=100),
    BagOfWordsSequencer(),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
