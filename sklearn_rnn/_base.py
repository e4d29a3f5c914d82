"""BaseRNN: parameters, input validation and the training loop shared by the estimators.

The estimators orchestrate; the math lives in ``_core``.  Training is cut into
small named steps: ``_fit`` -> ``_fit_stochastic`` / ``_fit_lbfgs`` ->
``_run_epoch`` -> ``_train_step``, with ``_end_epoch`` doing the bookkeeping of
scikit-learn's MLP (loss curve, early stopping, best weights).
"""

import math
import threading
import time
import warnings
from abc import ABCMeta, abstractmethod
from contextlib import nullcontext
from functools import partial
from numbers import Integral, Real

import numpy as np
import scipy.optimize
import scipy.sparse as sp
import sklearn
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning, InconsistentVersionWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)

from ._core._blas import blas
from ._core._losses import LOSSES
from ._core._network import RecurrentNetwork
from ._core._optimizers import OPTIMIZERS, clip_gradients
from ._core._workspace import borrowed_workspace
from ._sequences import (
    EXPECTED_FORMS,
    FLOAT_DTYPES,
    check_3d_array,
    check_sequence_list,
    is_sequence_list,
    univariate,
)

PREDICT_CHUNK = 512  # sequences per forward pass at prediction time (bounded memory)
# OpenBLAS and MKL share even small matrix products between threads. For the
# per-step products of a small recurrent layer the hand-over costs more than the
# second thread brings (on 2 cores shared with other jobs: 2-10x slower epochs at
# H=32), so below this many multiply-adds per step (rows x H x gates*H) the
# estimators hold BLAS to one thread while they train and predict.  On a quiet
# 2-core machine (benchmarks/README.md) two threads were 6 to 27% faster for
# every model measured from 2**20 on (the large GEMMs outside the time loop gain
# most), within 8% either way below 2**19.
SINGLE_THREAD_STEP_WORK = 2**20


class _OneBlasThread:
    """Hold BLAS to one thread. The limit is process-wide, so concurrent fits and
    predicts share it: the first to enter sets it, the last to leave restores the
    original thread counts (nested or overlapping uses never leave it stuck at 1)."""

    _lock = threading.Lock()
    _users = 0
    _limiter = None

    def __enter__(self):
        with self._lock:
            if _OneBlasThread._users == 0:
                _OneBlasThread._limiter = blas().limit(limits=1)
            _OneBlasThread._users += 1

    def __exit__(self, *exc_info):
        with self._lock:
            _OneBlasThread._users -= 1
            if _OneBlasThread._users == 0:
                _OneBlasThread._limiter.restore_original_limits()


GATES = {"elman": 1, "gru": 3, "lstm": 4}


def blas_threads_for(estimator, n_rows):
    """One BLAS thread when the estimator's per-step products are small."""
    sizes = estimator.hidden_layer_sizes
    width = max(sizes) if np.iterable(sizes) and len(sizes) else sizes
    if not isinstance(width, Integral):
        return nullcontext()  # invalid sizes: let _build_network say so
    work = n_rows * width * GATES[estimator.cell] * width
    return _OneBlasThread() if work < SINGLE_THREAD_STEP_WORK else nullcontext()


class _Diverged(Exception):
    """The loss or gradient became non-finite during an epoch."""


def _check_finite_output(outputs):
    if not all(np.isfinite(P).all() for P in outputs):
        raise ValueError(
            "The network's output is not finite: values in X are too large for the "
            "fitted weights (overflow). Scale X, for example with StandardScaler."
        )


# Training warnings point at the user's fit/partial_fit call: warn <- _fit_stochastic
# or _fit_lbfgs <- _fit_unlimited <- _fit <- fit <- _fit_context wrapper <- caller.
_USER_FRAME = 6


class ModelVersionWarning(InconsistentVersionWarning):
    """A pickled model was saved with another version of a library it relies on.

    scikit-learn records its version only in its own estimators' pickles, so the
    recurrent estimators record both sklearn_rnn's and scikit-learn's.
    """

    def __init__(self, *, estimator_name, library, current_version, saved_version):
        super().__init__(estimator_name=estimator_name,
                         current_sklearn_version=current_version,
                         original_sklearn_version=saved_version)
        self.library = library

    def __str__(self):
        return (
            f"Trying to unpickle {self.estimator_name} saved with {self.library} "
            f"{self.original_sklearn_version} when using {self.library} "
            f"{self.current_sklearn_version}. This might lead to breaking code or "
            "invalid results: refit the model, or load it with the version it was "
            "saved with."
        )


def _library_versions():
    from . import __version__

    return {"sklearn_rnn": __version__, "scikit-learn": sklearn.__version__}


class VersionedPickleMixin:
    """Record sklearn_rnn's and scikit-learn's versions in pickles; warn on load
    with other versions. Put it before ``BaseEstimator`` in the bases."""

    def __getstate__(self):
        return {**super().__getstate__(), "_saved_with": _library_versions()}

    def __setstate__(self, state):
        state = dict(state)
        saved = state.pop("_saved_with", {})
        for library, version in _library_versions().items():
            if saved.get(library, "unknown") != version:
                warnings.warn(ModelVersionWarning(
                    estimator_name=type(self).__name__, library=library,
                    current_version=version,
                    saved_version=saved.get(library, "unknown")), stacklevel=2)
        super().__setstate__(state)


class BaseRNN(VersionedPickleMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of the recurrent estimators (RNNClassifier, RNNSequenceRegressor)."""

    _parameter_constraints: dict = {
        "cell": [StrOptions({"elman", "lstm", "gru"})],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions({"tanh", "relu", "logistic"})],
        "bidirectional": ["boolean"],
        "return_sequences": ["boolean"],
        "clip_norm": [None, Interval(Real, 0, None, closed="neither")],
        "clip_value": [None, Interval(Real, 0, None, closed="neither")],
        "bptt_truncate": [None, Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"orthogonal", "glorot", "he"})],
        "solver": [StrOptions({"adam", "sgd", "lbfgs"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
    }

    @abstractmethod
    def __init__(self, *, cell, hidden_layer_sizes, activation, bidirectional,
                 return_sequences, clip_norm, clip_value, bptt_truncate, init, solver,
                 alpha, batch_size, learning_rate, learning_rate_init, power_t,
                 max_iter, shuffle, random_state, tol, verbose, warm_start, momentum,
                 nesterovs_momentum, early_stopping, validation_fraction, beta_1,
                 beta_2, epsilon, n_iter_no_change, max_fun):
        self.cell = cell
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.bidirectional = bidirectional
        self.return_sequences = return_sequences
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        self.bptt_truncate = bptt_truncate
        self.init = init
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    # ------------------------------------------------------------ subclass hooks
    @abstractmethod
    def _validate_targets(self, y, data, incremental):
        """Validate y, fix the output encoding on first fit; return float targets."""

    @abstractmethod
    def _target_weights(self, targets, sample_weight):
        """Per-sequence (or per-step) training weights."""

    @abstractmethod
    def _loss_name(self, n_outputs):
        """Key of ``_core._losses.LOSSES`` for a network with ``n_outputs``."""

    @abstractmethod
    def _score_sequences(self, data, targets, weights):
        """Validation score (accuracy or R^2) on validated data."""

    # ----------------------------------------------------------------- validation
    def _validate_sequences(self, X, reset):
        """Any of the four input forms of X -> ``Sequences``."""
        if sp.issparse(X):
            raise TypeError(
                "A sparse matrix X is not a batch of sequences. Pass a list of sparse "
                "matrices, one (n_timesteps_i, n_features) matrix per sequence, as "
                "BagOfWordsSequencer produces."
            )
        step_features = None if reset else self._n_step_features
        if getattr(X, "ndim", 0) > 3:
            raise ValueError(
                f"X has {X.ndim} dimensions; expected {EXPECTED_FORMS}."
            )
        if is_sequence_list(X):
            data = check_sequence_list(X, step_features)
            form = "sequences"
        elif getattr(X, "ndim", 2) == 3:
            data = check_3d_array(
                X, partial(check_array, estimator=self, input_name="X"), step_features
            )
            form = "sequences"
        elif reset or self._input_form == "univariate":
            X = validate_data(self, X, reset=reset, dtype=FLOAT_DTYPES)
            return self._remember_form(univariate(X), "univariate", reset)
        else:
            data = univariate(check_array(X, dtype=FLOAT_DTYPES))
            form = "sequences"
            if self._n_step_features != 1:
                raise ValueError(
                    "A 2-D X is read as univariate sequences (n_samples, n_timesteps), "
                    f"but the model expects {self._n_step_features} features per time "
                    "step: pass a 3-D array or a list of 2-D arrays."
                )
        if reset:
            self.n_features_in_ = data.n_features
        return self._remember_form(data, form, reset)

    def _remember_form(self, data, form, reset):
        if reset:
            self._input_form = form
            self._n_step_features = data.n_features
        return data

    def _check_sample_weight(self, sample_weight, n_samples, dtype):
        return _check_sample_weight(sample_weight, np.empty((n_samples, 0)),
                                    dtype=dtype, ensure_non_negative=True)

    def _check_stochastic_solver(self):
        if self.solver == "lbfgs":
            raise AttributeError(
                "partial_fit is only available for solver='sgd' or 'adam'; "
                "'lbfgs' is a full-batch method."
            )
        return True

    def _require_y(self, y):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )

    # ------------------------------------------------------------------- fitting
    def _fit(self, X, y, sample_weight=None, incremental=False):
        """Shared by ``fit`` and ``partial_fit`` (``incremental=True``).

        Training resumes from the current weights with ``partial_fit`` or
        ``warm_start``, whether they come from an earlier fit or ``set_weights``.
        """
        rows = 1_000_000 if self.solver == "lbfgs" else self.batch_size
        with blas_threads_for(self, 200 if rows == "auto" else rows):
            return self._fit_unlimited(X, y, sample_weight, incremental)

    def _fit_unlimited(self, X, y, sample_weight, incremental):
        self._require_y(y)
        resume = (incremental or self.warm_start) and hasattr(self, "_params")
        fitted = resume and hasattr(self, "n_iter_")
        if fitted:
            self._check_same_architecture()
        data = self._validate_sequences(X, reset=not resume)
        targets = self._validate_targets(y, data, fitted)
        weights = self._check_sample_weight(sample_weight, len(data), data.dtype)
        weights = self._target_weights(targets, weights)
        if not fitted:
            self._initialize(data, keep_params=resume)
        if self.solver == "lbfgs":
            self._fit_lbfgs(data, targets, weights)
        else:
            self._fit_stochastic(data, targets, weights, incremental)
        return self

    def _initialize(self, data, keep_params):
        """Build the network and reset the fitted state.

        ``keep_params=True`` keeps the weights given by ``set_weights``.
        """
        self._random_state = check_random_state(self.random_state)
        self._network = self._build_network(data.n_features, self.n_outputs_)
        if not keep_params:
            self._params = self._network.init_params(self._random_state, self.init,
                                                     data.dtype)
        elif self._params.size != self._network.layout.size:
            raise ValueError(
                "The weights given to set_weights do not fit this data: the model "
                f"needs {self.n_outputs_} outputs and {data.n_features} features per "
                "step."
            )
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self._no_improvement_count = 0
        self.best_loss_ = np.inf
        self.validation_scores_ = None
        self.best_validation_score_ = None
        if self.early_stopping and self.solver != "lbfgs":
            self.validation_scores_ = []
            self.validation_loss_curve_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        self._optimizer = None

    def _check_same_architecture(self):
        """warm_start and partial_fit continue the fitted network: refuse changes."""
        network = self._network
        wanted = self._build_network(network.n_features, network.n_outputs)
        if (wanted.layout.shapes != network.layout.shapes
                or type(wanted.cell) is not type(network.cell)
                or vars(wanted.cell) != vars(network.cell)
                or wanted.return_sequences != network.return_sequences):
            raise ValueError(
                "cell, hidden_layer_sizes, bidirectional, activation or "
                "return_sequences changed since the model was fitted; partial_fit "
                "and warm_start=True continue the fitted network and cannot change "
                "it. Set warm_start=False (or clone the estimator) to start anew."
            )

    def _build_network(self, n_features, n_outputs):
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, Integral) else tuple(sizes)
        if len(sizes) == 0 or not all(isinstance(s, Integral) and s >= 1
                                      for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be a non-empty tuple of positive ints; got "
                f"{self.hidden_layer_sizes!r}."
            )
        return RecurrentNetwork(self.cell, n_features, sizes, n_outputs,
                                self.bidirectional, self.activation,
                                self.return_sequences, self._loss_name(n_outputs))

    def _make_optimizer(self):
        if self.solver == "sgd":
            return OPTIMIZERS["sgd"](self._params, self.learning_rate_init,
                                     self.learning_rate, self.momentum,
                                     self.nesterovs_momentum, self.power_t)
        return OPTIMIZERS["adam"](self._params, self.learning_rate_init, self.beta_1,
                                  self.beta_2, self.epsilon)

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        return min(self.batch_size, n_samples)

    def _fit_stochastic(self, data, targets, weights, incremental):
        if self._optimizer is None or not incremental:
            # As in MLP: each fit (warm_start too) uses the current solver and
            # learning-rate settings; partial_fit carries the optimizer's state.
            self._optimizer = self._make_optimizer()
        early_stopping = self.early_stopping and not incremental
        train, val = self._split(data, targets, weights, early_stopping)
        self._best_params = self._params.copy()
        # Scratch memory lent from one training step to the next.
        with borrowed_workspace() as workspace:
            try:
                for _ in range(1 if incremental else self.max_iter):
                    start = time.perf_counter()
                    loss = self._run_epoch(*train, workspace)
                    self._end_epoch(loss, train[0], val, time.perf_counter() - start)
                    if self._should_stop(early_stopping):
                        break
                else:
                    if not incremental:
                        warnings.warn(
                            "Stochastic Optimizer: Maximum iterations "
                            f"({self.max_iter}) reached and the optimization "
                            "hasn't converged yet.",
                            ConvergenceWarning,
                            stacklevel=_USER_FRAME,
                        )
            except _Diverged as exc:
                self._params[...] = self._best_params
                self._optimizer = None  # its moments belong to the diverging path
                warnings.warn(str(exc), ConvergenceWarning, stacklevel=_USER_FRAME)
            except KeyboardInterrupt:
                warnings.warn(
                    "Training interrupted by user.", UserWarning, stacklevel=_USER_FRAME
                )
        if early_stopping:
            self._params[...] = self._best_params

    def _split(self, data, targets, weights, early_stopping):
        """Training and (with early stopping) validation parts of the data."""
        if not early_stopping:
            return (data, targets, weights), None
        stratify = self._stratify_labels(targets)
        try:
            idx_train, idx_val = train_test_split(
                np.arange(len(data)), test_size=self.validation_fraction,
                random_state=self._random_state, stratify=stratify,
            )
        except ValueError as exc:
            raise ValueError(
                f"early_stopping=True cannot hold out validation_fraction="
                f"{self.validation_fraction} of {len(data)} sequences ({exc}). "
                "Increase validation_fraction or set early_stopping=False."
            ) from None
        if len(idx_val) < 2:
            raise ValueError(
                f"The validation set is too small ({len(idx_val)} sequences): "
                "increase validation_fraction or set early_stopping=False."
            )

        def part(idx):
            pick = (lambda v: [v[i] for i in idx]) if isinstance(targets, list) else (
                lambda v: v[idx])
            return data.take(idx), pick(targets), pick(weights)
        return part(idx_train), part(idx_val)

    def _stratify_labels(self, targets):
        return None

    def _run_epoch(self, data, targets, weights, workspace=None):
        """One pass over the data; returns the mean training loss."""
        batches = self._batches(data, shuffle=self.shuffle)
        total_loss = total_weight = 0.0
        for indices in batches:
            batch, order = data.batch(indices)
            Y, W = self._batch_targets(targets, weights, order, batch, data.dtype)
            loss = self._train_step(batch, Y, W, workspace)
            total_loss += loss * W.sum()
            total_weight += W.sum()
        self.t_ += len(data)
        return total_loss / total_weight if total_weight > 0 else 0.0

    def _train_step(self, batch, Y, W, workspace=None):
        """Loss and gradient on one batch, clipping, one optimizer update."""
        loss, grad = self._network.loss_and_grad(
            self._params,
            batch,
            Y,
            W,
            alpha=self.alpha,
            bptt_truncate=self.bptt_truncate,
            workspace=workspace,
        )
        # The gradient's norm (computed anyway for clipping) is finite exactly when
        # every entry is; a non-finite gradient never reaches the optimizer.
        norm = clip_gradients(grad, self.clip_value, self.clip_norm)
        if not (math.isfinite(loss) and math.isfinite(norm)):
            raise _Diverged(
                f"Training diverged at iteration {self.n_iter_ + 1}: the loss or its "
                "gradient became non-finite. The best weights reached so far were "
                "kept. Set clip_norm (for example clip_norm=1.0) or lower "
                "learning_rate_init."
            )
        self._optimizer.update_params(self._params, grad)
        if not np.isfinite(self._params).all():
            raise _Diverged(
                f"Training diverged at iteration {self.n_iter_ + 1}: an update made "
                "the weights non-finite. The best weights reached so far were kept. "
                "Set clip_norm (for example clip_norm=1.0) or lower "
                "learning_rate_init."
            )
        return loss

    def _end_epoch(self, loss, n_train, val, seconds):
        """MLP's bookkeeping: loss curve, validation score, best weights."""
        self.n_iter_ += 1
        self.loss_ = loss
        self.loss_curve_.append(loss)
        message = f"Iteration {self.n_iter_}, loss = {loss:.8f}"
        if val is not None:
            score = self._score_sequences(*val)
            self.validation_scores_.append(score)
            self.validation_loss_curve_.append(self._mean_loss(*val))
            message += f", validation score = {score:.6f}"
            improved = score > self.best_validation_score_
            stalled = score < self.best_validation_score_ + self.tol
            if improved:
                self.best_validation_score_ = score
        else:
            improved = loss < self.best_loss_
            stalled = loss > self.best_loss_ - self.tol
            if improved:
                self.best_loss_ = loss
        if improved:
            self._best_params = self._params.copy()
        self._no_improvement_count = self._no_improvement_count + 1 if stalled else 0
        self._optimizer.iteration_ends(self.t_)
        if self.verbose:
            print(f"{message}, time = {seconds:.2f}s")

    def _should_stop(self, early_stopping):
        if self._no_improvement_count <= self.n_iter_no_change:
            return False
        what = "Validation score" if early_stopping else "Training loss"
        msg = (f"{what} did not improve more than tol={self.tol:f} for "
               f"{self.n_iter_no_change} consecutive epochs.")
        if self._optimizer.trigger_stopping(msg, self.verbose):
            return True
        self._no_improvement_count = 0
        return False

    def _fit_lbfgs(self, data, targets, weights):
        """Full-batch L-BFGS: deterministic, as in MLP (clipping does not apply)."""
        dtype = self._params.dtype
        batches = [data.batch(idx) for idx in self._batches(data, shuffle=False)]
        parts = [(b, *self._batch_targets(targets, weights, o, b, dtype))
                 for b, o in batches]
        total = sum(float(W.sum()) for _, _, W in parts) or 1.0
        # The best point evaluated so far, kept if the user interrupts.
        best = {"loss": np.inf, "theta": self._params.astype(np.float64), "nit": 0}

        def fun(theta):
            params = theta.astype(dtype)
            loss, grad = 0.0, np.zeros_like(params)
            for batch, Y, W in parts:
                loss_b, grad_b = self._network.loss_and_grad(
                    params, batch, Y, W, alpha=0.0, bptt_truncate=self.bptt_truncate,
                    workspace=workspace)
                loss += loss_b * float(W.sum())
                grad += grad_b * W.sum()
            loss += self._network.add_l2_penalty(params, grad, self.alpha)
            if loss / total < best["loss"]:
                best.update(loss=loss / total, theta=theta.copy())
            return loss / total, (grad / total).astype(np.float64)

        def count_iteration(theta):
            best["nit"] += 1

        with borrowed_workspace() as workspace:  # fun's scratch memory
            try:
                result = scipy.optimize.minimize(
                    fun, best["theta"].copy(), method="L-BFGS-B", jac=True,
                    callback=count_iteration,
                    options={
                        "maxfun": self.max_fun,
                        "maxiter": self.max_iter,
                        "gtol": self.tol,
                    },
                )
            except KeyboardInterrupt:
                warnings.warn(
                    "Training interrupted by user.", UserWarning, stacklevel=_USER_FRAME
                )
                result = scipy.optimize.OptimizeResult(
                    x=best["theta"], fun=best["loss"], nit=best["nit"], success=True)
        if np.all(np.isfinite(result.x)):
            self._params[...] = result.x
        self.n_iter_ = int(result.nit)
        self.loss_ = float(result.fun)
        self.loss_curve_.append(self.loss_)
        self.best_loss_ = min(self.best_loss_, self.loss_)
        if not result.success:
            warnings.warn(
                f"L-BFGS failed to converge after {self.n_iter_} iterations: "
                f"{result.message}. Increase max_iter or scale the data.",
                ConvergenceWarning,
                stacklevel=_USER_FRAME,
            )

    # ---------------------------------------------------------------- batching
    def _batches(self, data, shuffle):
        """Index arrays of length-sorted batches (a random batch order if shuffle).

        Sorting by length wastes few padded steps; shuffling first and sorting
        within pools of 50 batches keeps the batches random when all lengths are
        equal or close.
        """
        n = len(data)
        size = self._batch_size(n)
        order = self._random_state.permutation(n) if shuffle else np.arange(n)
        pool = 50 * size
        chunks = []
        for start in range(0, n, pool):
            block = order[start : start + pool]
            block = block[np.argsort(-data.lengths[block], kind="stable")]
            chunks.extend(block[i : i + size] for i in range(0, len(block), size))
        if shuffle:
            chunks = [chunks[i] for i in self._random_state.permutation(len(chunks))]
        return chunks

    def _batch_targets(self, targets, weights, order, batch, dtype):
        """Targets and weights in the engine's layout for the rows ``order``."""
        if not self.return_sequences:
            targets = targets[order].astype(dtype, copy=False)
            return targets, weights[order].astype(dtype)
        T, B = batch.n_steps, batch.n_sequences
        Y = np.zeros((T, B, self.n_outputs_), dtype)
        W = np.zeros((T, B), dtype)
        for j, i in enumerate(order):
            Y[: len(targets[i]), j] = targets[i]
            W[: len(targets[i]), j] = weights[i]
        return Y, W

    # -------------------------------------------------------------- prediction
    def _raw_predict(self, X):
        """Output-layer activations: (n, n_outputs) or a list of (T_i, n_outputs)."""
        check_is_fitted(self)
        with blas_threads_for(self, PREDICT_CHUNK):
            return self._raw_predict_unlimited(X)

    def _raw_predict_unlimited(self, X):
        data = self._validate_sequences(X, reset=False)
        out = self._predict_sequences(data)
        _check_finite_output(out if self.return_sequences else [out])
        return out

    def _predict_sequences(self, data):
        params = self._params.astype(data.dtype, copy=False)
        if self.return_sequences:
            out = [None] * len(data)
        else:
            out = np.empty((len(data), self._network.n_outputs), dtype=data.dtype)
        with borrowed_workspace() as workspace:  # concurrent calls never share
            for start in range(0, len(data), PREDICT_CHUNK):
                stop = min(start + PREDICT_CHUNK, len(data))
                batch, order = data.batch(np.arange(start, stop))
                P = self._network.predict(params, batch, workspace)
                if not self.return_sequences:
                    out[order] = P
                    continue
                for j, i in enumerate(order):
                    out[i] = P[: data.lengths[i], j]
        return out

    def _mean_loss(self, data, targets, weights):
        """Weighted mean loss (no penalty) over data, for validation curves."""
        total_loss = total_weight = 0.0
        with borrowed_workspace() as workspace:
            for indices in self._batches(data, shuffle=False):
                batch, order = data.batch(indices)
                Y, W = self._batch_targets(targets, weights, order, batch, data.dtype)
                Z, _ = self._network.forward(self._params, batch, keep_trace=False,
                                             workspace=workspace)
                loss_sum, _ = LOSSES[self._network.loss_name](Z, Y, W)
                total_loss += float(loss_sum)
                total_weight += float(W.sum())
        return total_loss / total_weight if total_weight > 0 else 0.0

    # ------------------------------------------------------------------ weights
    def get_weights(self):
        """Parameters as a dict of arrays named as PyTorch's ``state_dict``.

        Returns
        -------
        weights : dict of str to ndarray
            ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
            ``bias_hh_l{k}`` (and ``..._reverse`` when bidirectional) for each
            layer ``k``, with gates stacked as in ``torch.nn.RNN/LSTM/GRU``, then
            ``output.weight`` and ``output.bias``. The arrays are copies.
        """
        check_is_fitted(self, "_params")
        views = self._network.layout.views(self._params)
        return {name: view.copy() for name, view in views.items()}

    def set_weights(self, weights):
        """Set all parameters from a dict shaped as ``get_weights()`` returns.

        On an unfitted estimator this initialises the model: the shapes fix
        ``n_features`` and the number of outputs, and a following ``partial_fit``
        or ``fit`` with ``warm_start=True`` continues from these weights.

        Parameters
        ----------
        weights : dict of str to array-like
            Must hold exactly the keys of ``get_weights()`` with the same shapes.

        Returns
        -------
        self : object
        """
        w_ih = np.asarray(weights.get("weight_ih_l0", np.empty((0, 0))))
        w_out = np.asarray(weights.get("output.weight", np.empty((0, 0))))
        network = self._build_network(w_ih.shape[1], w_out.shape[0])
        layout = network.layout
        if set(weights) != set(layout.shapes):
            raise ValueError(
                "weights must have exactly the keys "
                f"{sorted(layout.shapes)}; got {sorted(weights)}."
            )
        dtype = getattr(self, "_params", np.empty(0)).dtype
        flat = np.empty(layout.size, dtype=dtype)
        for name, view in layout.views(flat).items():
            value = np.asarray(weights[name], dtype=dtype)
            if value.shape != view.shape:
                raise ValueError(
                    f"weights[{name!r}] has shape {value.shape}; expected {view.shape} "
                    "for this cell, hidden_layer_sizes and bidirectional setting."
                )
            if not np.isfinite(value).all():
                raise ValueError(f"weights[{name!r}] contains NaN or infinity.")
            view[...] = value
        self._network = network
        self._params = flat
        if not hasattr(self, "_input_form"):
            self._input_form, self._n_step_features = "sequences", w_ih.shape[1]
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        tags.non_deterministic = False
        return tags
