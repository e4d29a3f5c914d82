"""Pure-NumPy recurrent engine: cells, backpropagation through time, losses, optimizers.

Nothing in this sub-package imports scikit-learn; the estimators orchestrate it.
"""
