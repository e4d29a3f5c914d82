"""RNNSequenceRegressor: sequence regression (one target per sequence or per step)."""

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils._available_if import available_if
from sklearn.utils.validation import check_array, check_consistent_length

from ._base import BaseRNN
from ._sequences import FLOAT_DTYPES, check_step_targets


class RNNSequenceRegressor(RegressorMixin, BaseRNN):
    """Recurrent neural network regressor (Elman, LSTM or GRU), trained by BPTT.

    One target vector per sequence (``return_sequences=False``, read from the
    last step) or one per time step (``return_sequences=True``), through a linear
    output layer. The loss is half the squared error plus ``alpha / 2`` times the
    squared norm of the weights, averaged over (weighted) sequences or steps.

    Parameters
    ----------
    cell : {"elman", "lstm", "gru"}, default="lstm"
        Recurrent cell, with PyTorch's equations (see Notes).
    hidden_layer_sizes : tuple of int, default=(32,)
        Hidden size of each stacked recurrent layer, first layer first.
    activation : {"tanh", "relu", "logistic"}, default="tanh"
        Hidden activation of the Elman cell (LSTM and GRU have fixed gates).
    bidirectional : bool, default=False
        Run every layer forward and backward in time and concatenate both.
    return_sequences : bool, default=False
        False: one target per sequence. True: one target per time step; ``y`` is
        then a list of per-step target arrays and ``predict`` returns one.
    clip_norm : float or None, default=None
        If set, rescale the whole gradient so that its global L2 norm is at most
        ``clip_norm`` (after ``clip_value``, after the L2 penalty is added, before
        the optimizer step). Applies to "adam" and "sgd".
    clip_value : float or None, default=None
        If set, clip every gradient entry to ``[-clip_value, clip_value]``.
    bptt_truncate : int or None, default=None
        Let gradients flow back at most this many time steps. With one target per
        sequence, through each sequence's last ``bptt_truncate`` steps (backward
        memory then grows with ``bptt_truncate``, not with the sequence length);
        with per-step targets, within windows of ``bptt_truncate`` steps whose
        state carries over but whose gradient does not (one update per batch).
        None is full backpropagation through time.
    init : {"orthogonal", "glorot", "he"}, default="orthogonal"
        Initialisation of the recurrent weight matrices, gate by gate.
    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        Optimizer. "lbfgs" is full-batch and deterministic.
    alpha : float, default=1e-4
        L2 penalty on the weights (not the biases).
    batch_size : int or "auto", default="auto"
        Sequences per minibatch; "auto" is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Learning-rate schedule for ``solver="sgd"``, as in ``MLPClassifier``.
    learning_rate_init : float, default=0.001
        Initial learning rate for "sgd" and "adam".
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    max_iter : int, default=200
        Maximum number of epochs (iterations for "lbfgs").
    shuffle : bool, default=True
        Shuffle the sequences every epoch ("sgd" and "adam").
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the shuffling and the validation split.
    tol : float, default=1e-4
        Minimum improvement of the loss (or validation score) that counts.
    verbose : bool or int, default=False
        Print one line per epoch: loss, validation score, seconds.
    warm_start : bool, default=False
        Continue from the current weights on ``fit`` instead of starting anew.
    momentum : float, default=0.9
        Momentum for "sgd".
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum for "sgd".
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the sequences and stop when their
        R^2 score stops improving; the best weights are restored.
    validation_fraction : float, default=0.1
        Fraction held out for early stopping.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's moment decay rates.
    epsilon : float, default=1e-8
        Adam's numerical stability constant.
    n_iter_no_change : int, default=10
        Epochs without ``tol`` improvement before stopping.
    max_fun : int, default=15000
        Maximum loss evaluations for "lbfgs".

    Attributes
    ----------
    n_features_in_ : int
        Features per time step; for a 2-D X, the number of time steps.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when a 2-D X with string column names was given.
    n_outputs_ : int
        Number of outputs.
    n_iter_ : int
        Epochs run (iterations for "lbfgs").
    t_ : int
        Sequences seen during training.
    loss_ : float
        Loss of the last epoch.
    loss_curve_ : list of float
        Loss after each epoch.
    best_loss_ : float or None
        Lowest training loss (None with early stopping).
    validation_scores_ : list of float or None
        Validation R^2 after each epoch with early stopping.
    validation_loss_curve_ : list of float
        Validation loss after each epoch with early stopping.
    best_validation_score_ : float or None
        Best validation R^2 with early stopping.

    See Also
    --------
    RNNClassifier : the same network for labels.
    sklearn.neural_network.MLPRegressor : the feed-forward model these follow.

    Notes
    -----
    The input forms, equations and weight layout are those of ``RNNClassifier``.
    Scale the targets (for example with
    ``sklearn.compose.TransformedTargetRegressor``) when they are far from unit
    variance.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rnn import RNNSequenceRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-1, 1, (80, 6, 1))
    >>> y = X[:, :, 0].sum(axis=1)
    >>> reg = RNNSequenceRegressor(cell="gru", hidden_layer_sizes=(8,),
    ...                            solver="lbfgs", random_state=0).fit(X, y)
    >>> reg.predict(X[:2]).shape
    (2,)
    >>> reg.score(X, y) > 0.9
    True
    """

    def __init__(self, *, cell="lstm", hidden_layer_sizes=(32,), activation="tanh",
                 bidirectional=False, return_sequences=False, clip_norm=None,
                 clip_value=None, bptt_truncate=None, init="orthogonal", solver="adam",
                 alpha=1e-4, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000):
        super().__init__(
            cell=cell, hidden_layer_sizes=hidden_layer_sizes, activation=activation,
            bidirectional=bidirectional, return_sequences=return_sequences,
            clip_norm=clip_norm, clip_value=clip_value, bptt_truncate=bptt_truncate,
            init=init, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle,
            random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to sequences X and targets y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps) or (n_samples, \
n_timesteps, n_features), or list of arrays or sparse matrices
            Training sequences.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), or list \
of arrays of shape (n_timesteps_i,) or (n_timesteps_i, n_outputs) when \
``return_sequences=True``
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sequence (with per-step targets, of each of its steps).

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(BaseRNN._check_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing from the current weights.

        Parameters
        ----------
        X : array-like or list of arrays
            Training sequences, in any form ``fit`` accepts.
        y : array-like or list of arrays
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sequence.

        Returns
        -------
        self : object
        """
        if self.early_stopping:
            raise ValueError(
                "early_stopping=True needs a held-out part of the data, which "
                "partial_fit cannot keep across calls; set early_stopping=False."
            )
        return self._fit(X, y, sample_weight, incremental=True)

    def _loss_name(self, n_outputs):
        return "squared_error"

    def _validate_targets(self, y, data, fitted):
        if self.return_sequences:
            targets = [check_array(t, ensure_2d=False, dtype=FLOAT_DTYPES,
                                   ensure_min_samples=0)
                       for t in check_step_targets(y, data.lengths, check_array)]
            ndims = {t.ndim for t in targets}
            widths = {1 if t.ndim == 1 else t.shape[1] for t in targets}
            if len(ndims) > 1 or len(widths) > 1:
                raise ValueError(
                    "Per-step targets must all be 1-D (n_timesteps_i,) or all 2-D "
                    "(n_timesteps_i, n_outputs) with the same n_outputs."
                )
            self._set_output_shape(ndims.pop(), widths.pop(), fitted)
            return [t.reshape(len(t), self.n_outputs_) for t in targets]
        y = check_array(y, ensure_2d=False, dtype=FLOAT_DTYPES)
        check_consistent_length(np.empty((len(data), 0)), y)
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D or 2-D; got {y.ndim} dimensions.")
        self._set_output_shape(y.ndim, 1 if y.ndim == 1 else y.shape[1], fitted)
        return y.reshape(len(y), -1)

    def _set_output_shape(self, ndim, width, fitted):
        if fitted and width != self.n_outputs_:
            raise ValueError(
                f"y has {width} outputs, but the model was fitted with "
                f"{self.n_outputs_}."
            )
        self.n_outputs_ = width
        self._y_ndim = ndim

    def _target_weights(self, targets, sample_weight):
        if self.return_sequences:
            return [np.full(len(t), w) for t, w in zip(targets, sample_weight,
                                                        strict=True)]
        return sample_weight

    def _shape_output(self, P):
        return P[:, 0] if self._y_ndim == 1 else P

    def predict(self, X):
        """Predicted targets.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences, in any form ``fit`` accepts.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs), or list of \
arrays of shape (n_timesteps_i,) or (n_timesteps_i, n_outputs) when \
``return_sequences=True``
        """
        raw = self._raw_predict(X)
        if self.return_sequences:
            return [self._shape_output(P) for P in raw]
        return self._shape_output(raw)

    def score(self, X, y, sample_weight=None):
        """R^2 over sequences (over all time steps with per-step targets).

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences.
        y : array-like or list of arrays
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sequence.

        Returns
        -------
        score : float
        """
        if not self.return_sequences:
            return super().score(X, y, sample_weight)
        pred = self.predict(X)
        w = None if sample_weight is None else np.concatenate(
            [np.full(len(p), s) for p, s in zip(pred, sample_weight, strict=True)])
        return r2_score(np.concatenate(y), np.concatenate(pred), sample_weight=w)

    def _score_sequences(self, data, targets, weights):
        """Weighted R^2 on validated data (the early-stopping score)."""
        P = self._predict_sequences(data)
        if self.return_sequences:
            P, targets, weights = (np.concatenate(v) for v in (P, targets, weights))
        return float(r2_score(targets, P, sample_weight=weights))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
