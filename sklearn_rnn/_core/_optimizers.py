"""Stochastic optimizers and gradient clipping on one flat parameter vector.

The update rules, learning-rate schedules and stopping messages are those of
scikit-learn's ``sklearn/neural_network/_stochastic_optimizers.py``, so ``solver``,
``learning_rate`` and friends mean exactly what they mean in ``MLPClassifier``.
The difference is the data: scikit-learn loops over a list of weight arrays, while
here every parameter lives in one flat array ``params`` (each weight matrix being a
view into it) and the gradient in one array ``grads`` of the same shape and dtype,
so each update is a handful of vectorised, in-place operations.

Hyperparameters are kept as Python floats: NumPy treats those as "weak" scalars,
so float32 parameters are updated in float32 and never silently upcast.
"""

import math

import numpy as np

_LR_SCHEDULES = ("constant", "invscaling", "adaptive")


class _BaseOptimizer:
    """Shared state and the default stopping rule of the optimizers.

    Parameters
    ----------
    learning_rate_init : float
        The initial learning rate.

    Attributes
    ----------
    learning_rate : float
        The current learning rate.
    """

    def __init__(self, learning_rate_init):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)

    def iteration_ends(self, time_step):
        """Update the learning rate at the end of an epoch (no-op by default).

        Parameters
        ----------
        time_step : int
            Number of training samples seen so far (the estimator's ``t_``).
        """

    def trigger_stopping(self, msg, verbose):
        """Decide whether training stops when the loss stops improving.

        Parameters
        ----------
        msg : str
            Why the estimator considers stopping; printed when ``verbose``.
        verbose : bool
            Whether to print ``msg``.

        Returns
        -------
        is_stopping : bool
            Always True: only the adaptive SGD schedule can keep going.
        """
        if verbose:
            print(msg + " Stopping.")
        return True

    def _scratch(self, like):
        """Work space of ``like``'s shape and dtype, allocated once and reused."""
        scratch = self.__dict__.get("_scratch_buffer")
        fits = scratch is not None and scratch.shape == like.shape
        if not fits or scratch.dtype != like.dtype:
            scratch = self._scratch_buffer = np.empty_like(like)
        return scratch

    def __getstate__(self):
        # The scratch buffer holds nothing between steps: keep it out of pickles
        # so a fitted estimator does not store one more copy of its parameters.
        state = self.__dict__.copy()
        state.pop("_scratch_buffer", None)
        return state


class SGDOptimizer(_BaseOptimizer):
    """Stochastic gradient descent with (Nesterov) momentum.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        The flat parameter vector; only its shape and dtype are used here, to
        allocate the velocity.
    learning_rate_init : float, default=0.1
        The initial learning rate.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Learning-rate schedule, as in ``MLPClassifier``:

        - ``"constant"`` keeps ``learning_rate_init``;
        - ``"invscaling"`` sets ``learning_rate_init / (t + 1) ** power_t`` at the
          end of each epoch, ``t`` being the number of samples seen so far;
        - ``"adaptive"`` divides the rate by 5 each time the estimator reports
          that the loss stopped improving (see :meth:`trigger_stopping`).
    momentum : float, default=0.9
        Momentum of the velocity, in [0, 1].
    nesterov : bool, default=True
        Whether to use Nesterov's momentum.
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.

    Attributes
    ----------
    learning_rate : float
        The current learning rate.
    lr_schedule : str
        The schedule (the ``learning_rate`` argument).
    velocity : ndarray of shape (n_params,)
        The velocity, same dtype as ``params``.

    Notes
    -----
    With gradient :math:`g` and learning rate :math:`\\eta`, one step is

    .. math::

        v \\leftarrow \\mu v - \\eta g, \\qquad
        \\theta \\leftarrow \\theta + v \\quad\\text{or, with Nesterov,}\\quad
        \\theta \\leftarrow \\theta + \\mu v - \\eta g.

    Examples
    --------
    >>> import numpy as np
    >>> params = np.array([1.0, -1.0])
    >>> sgd = SGDOptimizer(params, learning_rate_init=0.5, momentum=0.0)
    >>> sgd.update_params(params, np.array([1.0, 2.0]))
    >>> params
    array([ 0.5, -2. ])
    """

    def __init__(
        self,
        params,
        learning_rate_init=0.1,
        learning_rate="constant",
        momentum=0.9,
        nesterov=True,
        power_t=0.5,
    ):
        if learning_rate not in _LR_SCHEDULES:
            raise ValueError(
                f"learning_rate must be one of {sorted(_LR_SCHEDULES)}, "
                f"got {learning_rate!r}."
            )
        super().__init__(learning_rate_init)
        self.lr_schedule = learning_rate
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.power_t = float(power_t)
        self.velocity = np.zeros_like(params)

    def update_params(self, params, grads):
        """Take one step, in place on ``params``.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
            The flat parameter vector, updated in place.
        grads : ndarray of shape (n_params,)
            Gradient of the loss with respect to ``params``, same dtype.
        """
        scaled_grad = np.multiply(grads, self.learning_rate, out=self._scratch(grads))
        self.velocity *= self.momentum
        self.velocity -= scaled_grad
        if not self.nesterov:
            params += self.velocity
            return
        # Nesterov looks ahead along the new velocity: theta += mu * v - lr * g.
        # Applied as two in-place steps so that no temporary array is needed.
        params -= scaled_grad
        params += np.multiply(self.velocity, self.momentum, out=scaled_grad)

    def iteration_ends(self, time_step):
        """Apply the ``"invscaling"`` schedule at the end of an epoch.

        Parameters
        ----------
        time_step : int
            Number of training samples seen so far (the estimator's ``t_``).
        """
        if self.lr_schedule == "invscaling":
            decay = (time_step + 1) ** self.power_t
            self.learning_rate = float(self.learning_rate_init / decay)

    def trigger_stopping(self, msg, verbose):
        """Decide whether training stops when the loss stops improving.

        Only the ``"adaptive"`` schedule keeps going: it divides the learning
        rate by 5, and stops once the rate is already at most 1e-6.

        Parameters
        ----------
        msg : str
            Why the estimator considers stopping; printed when ``verbose``.
        verbose : bool
            Whether to print ``msg`` and the decision.

        Returns
        -------
        is_stopping : bool
            True if training should stop.
        """
        if self.lr_schedule != "adaptive":
            return super().trigger_stopping(msg, verbose)
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(f"{msg} Setting learning rate to {self.learning_rate:f}")
        return False


class AdamOptimizer(_BaseOptimizer):
    """Adam: adaptive moment estimation (Kingma and Ba, 2014).

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        The flat parameter vector; only its shape and dtype are used here, to
        allocate the moment estimates.
    learning_rate_init : float, default=0.001
        The initial learning rate.
    beta_1 : float, default=0.9
        Decay rate of the first-moment estimate, in [0, 1).
    beta_2 : float, default=0.999
        Decay rate of the second-moment estimate, in [0, 1).
    epsilon : float, default=1e-8
        Added to the denominator for numerical stability.

    Attributes
    ----------
    learning_rate : float
        The bias-corrected learning rate of the last step (``learning_rate_init``
        before the first step), as in scikit-learn.
    t : int
        Number of steps taken.
    m : ndarray of shape (n_params,)
        First-moment estimate, same dtype as ``params``.
    v : ndarray of shape (n_params,)
        Second-moment estimate, same dtype as ``params``.

    Notes
    -----
    One step with gradient :math:`g` is

    .. math::

        t &\\leftarrow t + 1 \\\\
        m &\\leftarrow \\beta_1 m + (1 - \\beta_1) g \\\\
        v &\\leftarrow \\beta_2 v + (1 - \\beta_2) g^2 \\\\
        \\eta_t &= \\eta_0 \\sqrt{1 - \\beta_2^t} / (1 - \\beta_1^t) \\\\
        \\theta &\\leftarrow \\theta - \\eta_t m / (\\sqrt{v} + \\epsilon)

    Examples
    --------
    >>> import numpy as np
    >>> params = np.array([1.0, -1.0])
    >>> adam = AdamOptimizer(params, learning_rate_init=0.1)
    >>> adam.update_params(params, np.array([3.0, -0.5]))
    >>> params.round(6)
    array([ 0.9, -0.9])
    """

    def __init__(
        self, params, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8
    ):
        super().__init__(learning_rate_init)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.t = 0
        self.m = np.zeros_like(params)
        self.v = np.zeros_like(params)

    def update_params(self, params, grads):
        """Take one step, in place on ``params``.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
            The flat parameter vector, updated in place.
        grads : ndarray of shape (n_params,)
            Gradient of the loss with respect to ``params``, same dtype.
        """
        scratch = self._scratch(grads)
        self.t += 1
        self.m *= self.beta_1
        self.m += np.multiply(grads, 1.0 - self.beta_1, out=scratch)
        self.v *= self.beta_2
        np.square(grads, out=scratch)
        self.v += np.multiply(scratch, 1.0 - self.beta_2, out=scratch)
        self.learning_rate = (
            float(self.learning_rate_init)
            * math.sqrt(1.0 - self.beta_2**self.t)
            / (1.0 - self.beta_1**self.t)
        )
        step = np.sqrt(self.v, out=scratch)
        step += self.epsilon
        np.divide(self.m, step, out=step)
        step *= self.learning_rate
        params -= step


OPTIMIZERS = {"sgd": SGDOptimizer, "adam": AdamOptimizer}


def clip_gradients(grads, clip_value=None, clip_norm=None):
    """Clip a flat gradient in place, by value then by global norm.

    Parameters
    ----------
    grads : ndarray of shape (n_params,)
        The flat gradient, modified in place.
    clip_value : float or None, default=None
        If not None, every entry is clipped to ``[-clip_value, clip_value]``.
    clip_norm : float or None, default=None
        If not None and the global L2 norm of ``grads`` (after value clipping)
        exceeds it, ``grads`` is rescaled so that its norm equals ``clip_norm``.

    Returns
    -------
    norm : float
        The global L2 norm of ``grads`` before any clipping, handy to monitor
        exploding gradients.

    Examples
    --------
    >>> import numpy as np
    >>> grads = np.array([3.0, -4.0])
    >>> clip_gradients(grads, clip_norm=1.0)
    5.0
    >>> grads
    array([ 0.6, -0.8])
    """
    norm = _global_norm(grads)
    if clip_value is not None:
        np.clip(grads, -clip_value, clip_value, out=grads)
    if clip_norm is not None:
        clipped_norm = norm if clip_value is None else _global_norm(grads)
        if clipped_norm > clip_norm:
            grads *= clip_norm / clipped_norm
    return norm


def _global_norm(grads):
    """L2 norm of a flat array, as a Python float, robust to overflow.

    A BLAS dot product is the fastest single pass.  Squaring overflows for
    float32 entries above about 1e19, exactly when gradients explode and the norm
    matters most, so in that case the entries are rescaled by the largest one first.
    """
    flat = grads.ravel()
    with np.errstate(over="ignore"):  # an overflow is handled just below
        norm = math.sqrt(np.dot(flat, flat))
    if math.isinf(norm) and np.isfinite(flat).all():
        peak = float(np.max(np.abs(flat)))
        scaled = flat / peak
        norm = peak * math.sqrt(np.dot(scaled, scaled))
    return norm
