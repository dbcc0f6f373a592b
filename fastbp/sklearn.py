"""scikit-learn estimators: :class:`FastBPClassifier` and :class:`FastBPRegressor`.

Drop-in for ``MLPClassifier`` / ``MLPRegressor`` with ``solver="sgd"`` and
``nesterovs_momentum=False``: the same parameters, defaults and fitted attributes, the
same weight initialisation, shuffling, L2 term, learning-rate schedules and stopping
rule, so the same settings make the same updates (up to the rounding of the sums, which
fastbp adds in its canonical order). The epochs run in fastbp's kernels, on any backend.

Needs scikit-learn (``pip install "fastbp[sklearn]"``); ``import fastbp`` never imports
this module.
"""

from __future__ import annotations

import itertools
import warnings
from numbers import Integral, Real

import numpy as np

try:
    import sklearn  # noqa: F401
except ImportError as exc:
    raise ImportError(f"fastbp.sklearn needs scikit-learn ({exc}): pip install "
                      f"'fastbp[sklearn]'") from exc

from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, shuffle
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
)
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from . import functions
from .data import check_threads
from .kernels import resolve
from .kernels.protocol import Rule
from .network import Network

__all__ = ["FastBPClassifier", "FastBPRegressor"]

_HIDDEN = ("identity", "logistic", "tanh", "relu", "sigmoid")


class _FastBP(BaseEstimator):
    """What the classifier and the regressor share: the parameters and the epoch loop."""

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's convention)
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_HIDDEN))],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "backend": [str],
        "threads": [Interval(Integral, 1, None, closed="left"), None],
        "bias": [StrOptions(set(functions.BIAS_MODES))],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4,
                 verbose=False, warm_start=False, momentum=0.9, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, backend="auto", threads=None,
                 bias="trainable"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
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
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.backend = backend
        self.threads = threads
        self.bias = bias

    # -- fitting ---------------------------------------------------------------------------

    def fit(self, X, y):
        """Fit the network to ``X`` and targets ``y`` (``max_iter`` epochs at most).

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False)

    def _fit(self, X, y, incremental, classes=None):
        self._validate_params()
        hidden = np.atleast_1d(np.asarray(self.hidden_layer_sizes))
        if hidden.ndim != 1 or not np.issubdtype(hidden.dtype, np.integer) or (hidden < 1).any():
            raise ValueError(f"hidden_layer_sizes must hold integers >= 1, got "
                             f"{self.hidden_layer_sizes!r}")
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        first = not hasattr(self, "network_") or (not self.warm_start and not incremental)
        X, Y = self._prepare(X, y, first, incremental, classes)
        self._random_state = check_random_state(self.random_state)
        self.backend_ = resolve(self.backend)[0]
        self._threads = check_threads(self.threads)
        if first:
            self._initialize(X.shape[1], [int(h) for h in hidden], Y.shape[1])
        elif X.shape[1] != self.network_.sizes[0]:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.network_.sizes[0]} features as input")
        self._run_epochs(X, Y, incremental)
        self._expose()
        return self

    def _initialize(self, n_in, hidden, n_out):
        """A Network drawn as scikit-learn's MLP draws its coefficients: per layer, W as
        ``(fan_in, fan_out)`` then b, from ``Uniform(±sqrt(f / (fan_in + fan_out)))``,
        ``f = 2`` for logistic hidden layers and 6 otherwise, from ``random_state``."""
        sizes = [n_in, *hidden, n_out]
        act = functions.activation_name(self.activation)
        self.network_ = Network(sizes, [act] * len(hidden) + [self._out_activation],
                                bias=self.bias)
        factor = 2.0 if act == "logistic" else 6.0
        for w, b, (fan_in, fan_out) in zip(self.network_.weights, self.network_.biases,
                                           itertools.pairwise(sizes)):
            bound = np.sqrt(factor / (fan_in + fan_out))
            w[...] = self._random_state.uniform(-bound, bound, (fan_in, fan_out)).T
            b[...] = self._random_state.uniform(-bound, bound, fan_out)
        self.n_iter_, self.t_ = 0, 0
        self.n_layers_, self.n_outputs_ = len(sizes), n_out
        self.out_activation_ = self._out_activation
        self.loss_curve_ = []
        self._no_improvement_count = 0
        self._best_params = self.network_.params.copy()
        if self.early_stopping:
            self.validation_scores_, self.best_validation_score_ = [], -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = self.best_validation_score_ = None

    def _run_epochs(self, X, Y, incremental):
        """scikit-learn's ``_fit_stochastic``, each epoch one call of the kernels."""
        net, kernels = self.network_, self._kernels()
        if not incremental or not hasattr(self, "_velocity"):
            self._velocity = np.zeros_like(net.params)
            self._lr = float(self.learning_rate_init)
        X_val = y_val = None
        if self.early_stopping:
            stratify = Y if is_classifier(self) and self.n_outputs_ == 1 else None
            X, X_val, Y, y_val = train_test_split(X, Y, random_state=self._random_state,
                                                  test_size=self.validation_fraction,
                                                  stratify=stratify)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            if is_classifier(self):
                y_val = self._label_binarizer.inverse_transform(y_val)
        X, Y = np.ascontiguousarray(X), np.ascontiguousarray(Y)
        n = X.shape[0]
        if self.batch_size == "auto":
            batch = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                              "going to be clipped", stacklevel=3)
            batch = int(np.clip(self.batch_size, 1, n))
        rule = Rule(self._loss_code, batch, float(self.momentum), float(self.alpha))
        batches = -(-n // batch)
        sample_idx = np.arange(n, dtype=np.int64)
        shape = net.kernel_shape
        if not incremental:
            self.n_iter_ = 0
        try:
            for _ in range(1 if incremental else self.max_iter):
                if self.shuffle:
                    sample_idx = shuffle(sample_idx, random_state=self._random_state)
                    order = np.ascontiguousarray(sample_idx, dtype=np.int64).reshape(1, -1)
                else:
                    order = None
                kernels.train(shape, rule, net.params, self._velocity, X, Y, 1, self._lr,
                              order, self._threads)
                if not np.isfinite(net.params).all():
                    raise ValueError(f"training diverged in epoch {self.n_iter_ + 1}: a "
                                     f"weight became NaN or infinite; lower "
                                     f"learning_rate_init (now {self.learning_rate_init})")
                self.n_iter_ += 1
                self.loss_ = self._loss(X, Y, batches)
                self.t_ += n
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
                self._update_no_improvement_count(X_val, y_val)
                if self.learning_rate == "invscaling":
                    self._lr = float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t
                if self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score" if self.early_stopping else "Training loss"
                    msg = (f"{what} did not improve more than tol={self.tol:f} for "
                           f"{self.n_iter_no_change} consecutive epochs.")
                    if self._trigger_stopping(msg):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                                  f"reached and the optimization hasn't converged yet.",
                                  ConvergenceWarning, stacklevel=3)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=3)
        if self.early_stopping:
            net.params[...] = self._best_params

    def _trigger_stopping(self, msg):
        """scikit-learn's rule: stop, or for "adaptive" divide the learning rate by 5 (and
        stop once it is at most 1e-6)."""
        if self.learning_rate != "adaptive":
            if self.verbose:
                print(msg + " Stopping.")
            return True
        if self._lr <= 1e-6:
            if self.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self._lr /= 5.0
        if self.verbose:
            print(msg + f" Setting learning rate to {self._lr:f}")
        return False

    def _update_no_improvement_count(self, X_val, y_val):
        if self.early_stopping:
            score = self._score_function(y_val, self.predict(X_val))
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = self.network_.params.copy()
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    def _loss(self, X, Y, batches):
        """The epoch's loss as scikit-learn reports it, measured after the epoch: the mean
        data loss (squared error also averaged over the outputs, halved), plus each batch's
        L2 term ``alpha / 2 * sum(W**2) / batch size`` weighted by its size."""
        net = self.network_
        data = self._kernels().mean_loss(net.kernel_shape, self._loss_code, net.params, X, Y,
                                       self._threads)
        if self._loss_code == functions.SQUARED:
            data /= Y.shape[1]
        squares = sum(float(np.dot(w.ravel(), w.ravel())) for w in net.weights)
        return float(data + batches * (0.5 * self.alpha) * squares / X.shape[0])

    def _kernels(self):
        """The backend module that trains (looked up, not stored: estimators pickle)."""
        return resolve(self.backend_)[1]

    def _expose(self):
        """The fitted attributes scikit-learn's MLP has, from ``network_``."""
        self.coefs_ = [w.T.copy() for w in self.network_.weights]
        self.intercepts_ = [b.copy() for b in self.network_.biases]

    def _outputs(self, X):
        check_is_fitted(self, "network_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.network_.forward(X, backend=self.backend_, threads=self._threads)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


class FastBPClassifier(ClassifierMixin, _FastBP):
    """Multi-layer perceptron classifier trained by fastbp: ``MLPClassifier``'s interface,
    with stochastic gradient descent and classical momentum.

    Binary and multilabel targets get logistic outputs, multiclass targets a softmax,
    both trained on cross-entropy. Labels may be any values ``LabelBinarizer`` takes
    (strings, integers, booleans).

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default (100,)
        The width of each hidden layer.
    activation : {"relu", "tanh", "logistic", "sigmoid", "identity"}, default "relu"
        Hidden layers' activation ("sigmoid" is "logistic").
    alpha : float, default 0.0001
        L2 penalty: each batch's summed weight gradient gets ``alpha * W`` before the
        division by the batch size (computed in the kernels, as ``weight_decay``).
    batch_size : int or "auto", default "auto"
        ``min(200, n_samples)`` for "auto"; clipped to the number of samples.
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        scikit-learn's schedules: "invscaling" sets ``learning_rate_init / (t + 1) **
        power_t`` after each epoch (``t``: samples seen); "adaptive" divides the rate
        by 5 when ``n_iter_no_change`` epochs fail to improve by ``tol``.
    learning_rate_init : float, default 0.001
    power_t : float, default 0.5
    max_iter : int, default 200
        Epochs (one each call of ``partial_fit``).
    shuffle : bool, default True
        Shuffle the samples each epoch, as scikit-learn does, from ``random_state``.
    random_state : int, RandomState instance or None
        Seeds the initial weights, the validation split and the shuffling.
    tol : float, default 1e-4
    verbose : bool, default False
        Print the loss after each epoch.
    warm_start : bool, default False
        Continue from the fitted network in ``fit`` (the velocity restarts).
    momentum : float in [0, 1), default 0.9
        Classical momentum (scikit-learn's with ``nesterovs_momentum=False``).
    early_stopping : bool, default False
        Hold out ``validation_fraction`` (stratified) and stop when its accuracy does not
        improve by ``tol`` for ``n_iter_no_change`` epochs; keep the best network.
    validation_fraction : float, default 0.1
    n_iter_no_change : int, default 10
    backend : str, default "auto"
        A fastbp backend: every backend gives the same bits.
    threads : int or None
        Threads for the compiled backends (the bits do not depend on it).
    bias : {"trainable", "fixed"}, default "trainable"

    Attributes
    ----------
    classes_ : ndarray
    coefs_ : list of ndarray, ``(n_in, n_out)`` each
    intercepts_ : list of ndarray
    loss_ : float
        The last epoch's loss, as scikit-learn defines it, measured after the epoch.
    loss_curve_ : list of float
    best_loss_ : float or None
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
    t_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray
    n_layers_, n_outputs_ : int
    out_activation_ : str
    network_ : fastbp.Network
        The trained network.
    backend_ : str
        The backend that ran.

    Notes
    -----
    Differences from ``MLPClassifier``: the solver is SGD only (no Adam, no L-BFGS), with
    classical momentum (no Nesterov); ``loss_curve_`` holds the loss of the training data
    after each epoch rather than the running mean of the batch losses during it; no
    ``sample_weight``; sparse input is refused.
    """

    _score_function = staticmethod(accuracy_score)

    def _prepare(self, X, y, first, incremental, classes):
        X, y = validate_data(self, X, y, dtype=np.float64, multi_output=True, reset=first)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if incremental and _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer().fit(self.classes_)
        elif first and not incremental:
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        elif incremental and not set(np.unique(y)) <= set(self.classes_) \
                and type_of_target(y) != "multilabel-indicator":
            raise ValueError(f"`y` has classes not in `self.classes_`: {self.classes_} "
                             f"and {np.unique(y)}")
        if first and len(self.classes_) < 2 \
                and self._label_binarizer.y_type_ != "multilabel-indicator":
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes in "
                             f"the data, but the data contains only one class: "
                             f"{self.classes_[0]!r}")
        Y = self._label_binarizer.transform(y).astype(np.float64)
        self._out_activation = ("softmax" if self._label_binarizer.y_type_ == "multiclass"
                                else "logistic")
        self._loss_code = functions.CROSS_ENTROPY
        return X, Y

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``X, y``; ``classes`` (every label) is needed on the first call.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=True, classes=classes)

    def predict_proba(self, X):
        """Probability of each class, ``(n_samples, n_classes)`` (for multilabel targets,
        of each label)."""
        out = self._outputs(X)
        if self.n_outputs_ == 1 and self._label_binarizer.y_type_ == "binary":
            return np.hstack([1.0 - out, out])
        return out

    def predict_log_proba(self, X):
        """The logarithm of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each sample (each label above 0.5, for multilabel)."""
        out = self._outputs(X)
        if self.n_outputs_ == 1:
            out = out.ravel()
        return self._label_binarizer.inverse_transform(out)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class FastBPRegressor(RegressorMixin, _FastBP):
    """Multi-layer perceptron regressor trained by fastbp: ``MLPRegressor``'s interface,
    with stochastic gradient descent and classical momentum.

    Identity outputs trained on squared error; one or many targets. The parameters and
    attributes are :class:`FastBPClassifier`'s (without ``classes_``); early stopping
    scores the held-out fraction with R². ``loss_`` is scikit-learn's squared error,
    ``mean((y - y_pred) ** 2) / 2`` over samples and outputs, plus its L2 term.
    """

    _score_function = staticmethod(r2_score)

    def _prepare(self, X, y, first, incremental, classes):
        X, y = validate_data(self, X, y, dtype=np.float64, multi_output=True, y_numeric=True,
                             reset=first)
        Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        self._out_activation, self._loss_code = "identity", functions.SQUARED
        return X, Y

    def partial_fit(self, X, y):
        """One epoch over ``X, y``.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=True)

    def predict(self, X):
        """Predicted targets: ``(n_samples,)`` for one output, else ``(n_samples, n_outputs)``."""
        out = self._outputs(X)
        return out.ravel() if self.n_outputs_ == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
