"""RNNClassifier: sequence classification (one label per sequence or per step)."""

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    column_or_1d,
)

from ._base import BaseRNN
from ._sequences import check_step_targets


class RNNClassifier(ClassifierMixin, BaseRNN):
    """Recurrent neural network classifier (Elman, LSTM or GRU), trained by BPTT.

    One label per sequence (``return_sequences=False``, read from the last step)
    or one label per time step (``return_sequences=True``). Binary problems use
    one logistic output, multiclass problems a softmax output; the loss is the
    cross-entropy plus ``alpha / 2`` times the squared norm of the weights,
    averaged over (weighted) sequences or steps.

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
        False: one label per sequence. True: one label per time step; ``y`` is
        then a list of per-step label arrays and ``predict`` returns one.
    clip_norm : float or None, default=None
        If set, rescale the whole gradient so that its global L2 norm is at most
        ``clip_norm`` (after ``clip_value``, after the L2 penalty is added, before
        the optimizer step). Applies to "adam" and "sgd".
    clip_value : float or None, default=None
        If set, clip every gradient entry to ``[-clip_value, clip_value]``.
    bptt_truncate : int or None, default=None
        Let gradients flow back at most this many time steps. With one label per
        sequence, through each sequence's last ``bptt_truncate`` steps (backward
        memory then grows with ``bptt_truncate``, not with the sequence length);
        with per-step labels, within windows of ``bptt_truncate`` steps whose
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
        Hold out ``validation_fraction`` of the sequences (stratified) and stop
        when their accuracy stops improving; the best weights are restored.
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
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied into ``sample_weight``; "balanced"
        uses ``n_samples / (n_classes * np.bincount(y))``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Features per time step; for a 2-D X, the number of time steps.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when a 2-D X with string column names was given.
    n_outputs_ : int
        Output units (1 for binary problems).
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
        Validation accuracy after each epoch with early stopping.
    validation_loss_curve_ : list of float
        Validation loss after each epoch with early stopping.
    best_validation_score_ : float or None
        Best validation accuracy with early stopping.

    See Also
    --------
    RNNSequenceRegressor : the same network for real-valued targets.
    sklearn.neural_network.MLPClassifier : the feed-forward model these follow.

    Notes
    -----
    Input forms: a 2-D array ``(n_samples, n_timesteps)`` (univariate), a 3-D
    array ``(n_samples, n_timesteps, n_features)``, or a list of 2-D arrays or
    sparse matrices ``(n_timesteps_i, n_features)`` of varying length (masked
    internally; an empty sequence reads as the zero initial state).

    Equations, as in PyTorch (``s`` is the sigmoid):

    - Elman: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``
    - LSTM: ``i, f, g, o = s(.), s(.), tanh(.), s(.)`` of ``W_ih x_t + b_ih +
      W_hh h_{t-1} + b_hh``; ``c_t = f c_{t-1} + i g``; ``h_t = o tanh(c_t)``
    - GRU: ``r, z = s(.)``; ``n = tanh(W_in x_t + b_in + r (W_hn h_{t-1} +
      b_hn))``; ``h_t = (1 - z) n + z h_{t-1}``

    ``get_weights()`` returns the parameters in PyTorch's ``state_dict`` names.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_rnn import RNNClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.standard_normal((60, 8, 2))
    >>> y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    >>> clf = RNNClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=200,
    ...                     random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> round(clf.score(X, y), 1)
    1.0
    """

    _parameter_constraints: dict = {
        **BaseRNN._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(self, *, cell="lstm", hidden_layer_sizes=(32,), activation="tanh",
                 bidirectional=False, return_sequences=False, clip_norm=None,
                 clip_value=None, bptt_truncate=None, init="orthogonal", solver="adam",
                 alpha=1e-4, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, class_weight=None):
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
        self.class_weight = class_weight

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to sequences X and labels y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps) or (n_samples, \
n_timesteps, n_features), or list of arrays or sparse matrices
            Training sequences.
        y : array-like of shape (n_samples,), or list of arrays of shape \
(n_timesteps_i,) when ``return_sequences=True``
            Labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sequence (with per-step labels, of each of its steps).

        Returns
        -------
        self : object
        """
        self._classes_given = None
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(BaseRNN._check_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over (X, y), continuing from the current weights.

        Parameters
        ----------
        X : array-like or list of arrays
            Training sequences, in any form ``fit`` accepts.
        y : array-like of shape (n_samples,) or list of arrays
            Labels.
        classes : array-like of shape (n_classes,), default=None
            All classes that will ever appear; required on the first call.
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
        if isinstance(self.class_weight, str):  # "balanced"
            raise ValueError(
                "class_weight='balanced' is computed from all of y, which partial_fit "
                "never sees at once; pass class_weight as a dict of weights per class."
            )
        first = not hasattr(self, "classes_")
        if first and classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit: the full "
                "list of labels that will ever appear."
            )
        if not first and classes is not None and not np.array_equal(
                unique_labels(classes), self.classes_):
            raise ValueError(
                f"classes={list(classes)!r} differs from classes_ "
                f"{self.classes_.tolist()} fixed by the first call to partial_fit."
            )
        self._classes_given = None if classes is None else np.asarray(classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def _loss_name(self, n_outputs):
        return "logistic" if n_outputs == 1 else "softmax"

    def _labels(self, y, data):
        if self.return_sequences:
            steps = check_step_targets(y, data.lengths, check_array)
            if any(s.ndim != 1 for s in steps):
                raise ValueError(
                    "Per-step labels must be 1-D arrays of shape (n_timesteps_i,)."
                )
            return steps
        y = column_or_1d(check_array(y, ensure_2d=False, dtype=None), warn=True)
        check_consistent_length(np.empty((len(data), 0)), y)
        return y

    def _validate_targets(self, y, data, fitted):
        labels = self._labels(y, data)
        flat = np.concatenate(labels) if self.return_sequences else labels
        check_classification_targets(flat)
        if not fitted:
            given = self._classes_given
            self.classes_ = unique_labels(flat if given is None else given)
            if len(self.classes_) < 2:
                got = (f"one class: {self.classes_[0]!r}" if len(self.classes_)
                       else "no labels")
                raise ValueError(
                    f"RNNClassifier needs samples of at least 2 classes; got {got}."
                )
            self.n_outputs_ = 1 if len(self.classes_) == 2 else len(self.classes_)
        unseen = np.setdiff1d(np.unique(flat), self.classes_)
        if len(unseen):
            raise ValueError(
                f"y contains labels {unseen.tolist()} not among classes_ "
                f"{self.classes_.tolist()}."
            )
        if self.return_sequences:
            return [self._encode(step_labels) for step_labels in labels]
        return self._encode(labels)

    def _encode(self, labels):
        index = np.searchsorted(self.classes_, labels)
        if self.n_outputs_ == 1:
            return index[:, None].astype(np.float64)
        return np.eye(self.n_outputs_)[index]

    def _class_index(self, Y):
        return Y[:, 0].astype(int) if self.n_outputs_ == 1 else Y.argmax(axis=1)

    def _target_weights(self, targets, sample_weight):
        if self.class_weight is None:
            per_class = np.ones(len(self.classes_))
        else:
            all_index = self._class_index(
                np.concatenate(targets) if self.return_sequences else targets)
            per_class = compute_class_weight(
                self.class_weight, classes=np.arange(len(self.classes_)), y=all_index
            )
        if self.return_sequences:
            return [w * per_class[self._class_index(Y)]
                    for w, Y in zip(sample_weight, targets, strict=True)]
        return sample_weight * per_class[self._class_index(targets)]

    def _stratify_labels(self, targets):
        if self.return_sequences:
            return None
        index = self._class_index(targets)
        return index if np.bincount(index).min() >= 2 else None

    def _proba(self, P):
        return np.hstack([1.0 - P, P]) if self.n_outputs_ == 1 else P

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences, in any form ``fit`` accepts.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), or list of arrays of \
shape (n_timesteps_i, n_classes) when ``return_sequences=True``
        """
        raw = self._raw_predict(X)
        if self.return_sequences:
            return [self._proba(P) for P in raw]
        return self._proba(raw)

    def predict_log_proba(self, X):
        """Logarithm of ``predict_proba``.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes) or list of arrays
        """
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            if self.return_sequences:
                return [np.log(p) for p in proba]
            return np.log(proba)

    def predict(self, X):
        """Predicted labels.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences.

        Returns
        -------
        y : ndarray of shape (n_samples,), or list of arrays of shape \
(n_timesteps_i,) when ``return_sequences=True``
        """
        proba = self.predict_proba(X)
        if self.return_sequences:
            return [self.classes_[p.argmax(axis=1)] for p in proba]
        return self.classes_[proba.argmax(axis=1)]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy over sequences (over all time steps with per-step labels).

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences.
        y : array-like of shape (n_samples,) or list of arrays
            True labels.
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
        return accuracy_score(np.concatenate(y), np.concatenate(pred), sample_weight=w)

    def _score_sequences(self, data, targets, weights):
        """Weighted accuracy on validated data (the early-stopping score)."""
        P = self._predict_sequences(data)
        if self.return_sequences:
            pred = np.concatenate([self._proba(p).argmax(axis=1) for p in P])
            true = np.concatenate([self._class_index(Y) for Y in targets])
            weights = np.concatenate(weights)
        else:
            pred = self._proba(P).argmax(axis=1)
            true = self._class_index(targets)
        return float(np.average(pred == true, weights=weights))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags
