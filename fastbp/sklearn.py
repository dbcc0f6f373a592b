"""scikit-learn estimators: :class:`FastBPClassifier` and :class:`FastBPRegressor`.

Drop-ins for ``MLPClassifier`` / ``MLPRegressor``: the same parameters, defaults and
fitted attributes, the same weight initialisation, shuffling, optimizers (Adam, SGD with
Nesterov's or classical momentum, L-BFGS through scipy), L2 term, sample weights,
learning-rate schedules and stopping rule, so the same settings make the same updates (up
to the rounding of the sums, which fastbp adds in its canonical order). The epochs run in
fastbp's kernels, on any backend; what differs is in ``docs/sklearn.md``.

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

from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
)
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from .base import functions
from .core.data import check_threads
from .core.network import Network
from .kernels import choose, resolve
from .kernels.protocol import Rule

__all__ = ["FastBPClassifier", "FastBPRegressor"]

_HIDDEN = ("identity", "logistic", "tanh", "relu", "sigmoid")


class _FastBP(BaseEstimator):
    """What the classifier and the regressor share: the parameters and the solvers."""

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's convention)
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_HIDDEN))],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
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
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "backend": [str],
        "threads": [Interval(Integral, 1, None, closed="left"), None],
        "bias": [StrOptions(set(functions.BIAS_MODES))],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 backend="auto", threads=None, bias="trainable"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
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
        self.backend = backend
        self.threads = threads
        self.bias = bias

    # -- fitting ---------------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Fit the network to ``X`` and targets ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Sparse input is densified one batch at a time.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
            Each sample's loss and delta are scaled by its weight, and each batch's sums
            divided by its weights' sum (scikit-learn's rule).

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        self._validate_params()
        hidden = np.atleast_1d(np.asarray(self.hidden_layer_sizes))
        if hidden.ndim != 1 or not np.issubdtype(hidden.dtype, np.integer) or (hidden < 1).any():
            raise ValueError(f"hidden_layer_sizes must be > 0, got "
                             f"{list(np.atleast_1d(self.hidden_layer_sizes))}.")
        self._check_loss()
        first = not hasattr(self, "network_") or (not self.warm_start and not incremental)
        X, Y = self._prepare(X, y, first, incremental, classes)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
            if (sample_weight < 0).any():
                raise ValueError("sample_weight must be >= 0: fastbp trains on weighted "
                                 "sums that a negative weight would turn into a gain")
        self._random_state = check_random_state(self.random_state)
        resolve(self.backend)  # a wrong name fails before anything is drawn
        self._threads = check_threads(self.threads)
        if first:
            self._initialize(X.shape[1], [int(h) for h in hidden], Y.shape[1], X.dtype)
        elif X.shape[1] != self.network_.sizes[0]:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.network_.sizes[0]} features as input")
        # "auto": the backend whose kernels are ready for max_iter epochs (kernels.choose)
        online = Rule(self._loss_code, 1 if self.batch_size == 1 else 2)
        self.backend_ = choose(self.backend, self.network_.kernel_shape, online, 1,
                               X.shape[0], 1 if incremental else self.max_iter)[0]
        if self.solver == "lbfgs":
            self._fit_lbfgs(X, Y, sample_weight)
        else:
            self._run_epochs(X, Y, sample_weight, incremental)
        self._expose()
        if not np.isfinite(self.network_.params).all():
            raise ValueError("Solver produced non-finite parameter weights. The input data "
                             "may contain large values and need to be preprocessed.")
        return self

    def _check_loss(self):
        """The regressor's ``loss`` (the classifier has log-loss only)."""

    def _initialize(self, n_in, hidden, n_out, dtype):
        """A Network drawn as scikit-learn's MLP draws its coefficients: per layer, W as
        ``(fan_in, fan_out)`` then b, from ``Uniform(±sqrt(f / (fan_in + fan_out)))``,
        ``f = 2`` for logistic hidden layers and 6 otherwise, from ``random_state``; in
        the dtype of the data it is first fitted on (float32 stays float32), the values
        drawn in float64 and rounded, as scikit-learn does."""
        sizes = [n_in, *hidden, n_out]
        act = functions.activation_name(self.activation)
        self.network_ = Network(sizes, [act] * len(hidden) + [self._out_activation],
                                bias=self.bias, dtype=dtype)
        factor = 2.0 if act == "logistic" else 6.0
        for w, b, (fan_in, fan_out) in zip(self.network_.weights, self.network_.biases,
                                           itertools.pairwise(sizes)):
            bound = np.sqrt(factor / (fan_in + fan_out))
            w[...] = self._random_state.uniform(-bound, bound, (fan_in, fan_out)).T
            b[...] = self._random_state.uniform(-bound, bound, fan_out)
        self.n_iter_, self.t_ = 0, 0
        self.n_layers_, self.n_outputs_ = len(sizes), n_out
        self.out_activation_ = self._out_activation
        self._best_params = self.network_.params.copy()
        if self.solver == "lbfgs":
            return
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_, self.best_validation_score_ = [], -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = self.best_validation_score_ = None

    def _rule(self, batch: int) -> Rule:
        """The kernels' rule for the stochastic solvers, as scikit-learn's optimizers."""
        if self.solver == "adam":
            return Rule(self._loss_code, batch, weight_decay=float(self.alpha), adam=True,
                        beta_1=float(self.beta_1), beta_2=float(self.beta_2),
                        epsilon=float(self.epsilon))
        return Rule(self._loss_code, batch, float(self.momentum), float(self.alpha),
                    nesterov=bool(self.nesterovs_momentum))

    def _run_epochs(self, X, Y, sample_weight, incremental):
        """scikit-learn's ``_fit_stochastic``, each epoch one call of the kernels (a batch
        at a time for sparse ``X``)."""
        net, kernels = self.network_, self._kernels()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        X_val = y_val = sw_val = None
        if self.early_stopping:
            stratify = Y if is_classifier(self) and self.n_outputs_ == 1 else None
            parts = [X, Y] if sample_weight is None else [X, Y, sample_weight]
            split = train_test_split(*parts, random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X, X_val, Y, y_val = split[:4]
            if sample_weight is not None:
                sample_weight, sw_val = split[4:]
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            if is_classifier(self):
                y_val = self._label_binarizer.inverse_transform(y_val)
        Y = _kernel_array(Y, net.dtype)
        if not sparse.issparse(X):
            X = _kernel_array(X, net.dtype)
        if sample_weight is not None:
            sample_weight = _kernel_array(sample_weight, net.dtype)
        n = X.shape[0]
        if self.batch_size == "auto":
            batch = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                              "going to be clipped", stacklevel=3)
            batch = int(np.clip(self.batch_size, 1, n))
        rule = self._rule(batch)
        if not incremental or not hasattr(self, "_state") or \
                self._state.shape[-1] != rule.state_size(net.kernel_shape.n_params):
            self._state = rule.new_state(net.kernel_shape.n_params, None, net.dtype)
            self._lr = float(self.learning_rate_init)
        sample_idx = np.arange(n, dtype=np.int64)
        shape = net.kernel_shape
        if not incremental:
            self.n_iter_ = 0
        try:
            for _ in range(1 if incremental else self.max_iter):
                if self.shuffle:  # sklearn.utils.shuffle's draw, without its checks (a
                    # fifth of a default digits epoch)
                    visit = np.arange(n)
                    self._random_state.shuffle(visit)
                    sample_idx = sample_idx[visit]
                order = sample_idx if self.shuffle else None
                report = self._epoch(kernels, shape, rule, X, Y, sample_weight, order, batch)
                if not np.isfinite(net.params).all():
                    raise ValueError(f"training diverged in epoch {self.n_iter_ + 1}: a "
                                     f"weight became NaN or infinite; lower "
                                     f"learning_rate_init (now {self.learning_rate_init})")
                self.n_iter_ += 1
                self.loss_ = self._loss(report, Y.shape[1], n)
                self.t_ += n
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
                self._update_no_improvement_count(X_val, y_val, sw_val)
                if self.solver == "sgd" and self.learning_rate == "invscaling":
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

    def _epoch(self, kernels, shape, rule, X, Y, sample_weight, order, batch):
        """One epoch in the kernels, visiting ``order`` (None: 0..n-1): one call on dense
        ``X``; on sparse ``X`` one call a batch, each batch densified alone. Returns the
        epoch's report (``Kernels.train``'s ``report``: its batches' losses, met on the
        way)."""
        net, n = self.network_, X.shape[0]
        report = np.zeros((1, 2), net.dtype)
        if not sparse.issparse(X):
            kernels.train(shape, rule, net.params, self._state, X, Y, 1, self._lr,
                          None if order is None else order.reshape(1, -1), self._threads,
                          sample_weight, report)
            return report[0]
        visit = np.arange(n) if order is None else order
        total, one = np.zeros(2), np.zeros((1, 2), net.dtype)
        for start in range(0, n, batch):
            rows = visit[start:start + batch]
            part = rule._replace(batch_size=len(rows))
            kernels.train(shape, part, net.params, self._state,
                          _kernel_array(X[rows].toarray(), net.dtype),
                          _kernel_array(Y[rows], net.dtype), 1, self._lr, None, self._threads,
                          None if sample_weight is None else sample_weight[rows], one)
            total += one[0]
        return total

    def _trigger_stopping(self, msg):
        """scikit-learn's rule: stop, or for SGD's "adaptive" divide the learning rate by 5
        (and stop once it is at most 1e-6)."""
        if self.solver != "sgd" or self.learning_rate != "adaptive":
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

    def _update_no_improvement_count(self, X_val, y_val, sw_val):
        if self.early_stopping:
            score = self._score_function(y_val, self.predict(X_val), sample_weight=sw_val)
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

    def _loss(self, report, n_outputs, n):
        """The epoch's loss as scikit-learn reports it, from the kernels' report: each
        batch's loss before its update (its samples' mean data loss, squared error also
        averaged over the outputs, plus ``alpha / 2 * sum(W**2)`` over the batch's weight)
        times its size, summed, over the sample count."""
        data, squares = float(report[0]), float(report[1])
        if self._loss_code == functions.SQUARED:
            data /= n_outputs
        return (data + (0.5 * self.alpha) * squares) / n

    # -- L-BFGS ----------------------------------------------------------------------------

    def _packing(self):
        """``perm`` such that ``params[perm]`` is scikit-learn's packed vector: every
        ``coefs_[l]`` (``(fan_in, fan_out)``, row-major), then every ``intercepts_[l]``."""
        coefs, intercepts = [], []
        for n_in, n_out, w_at, b_at in self.network_.layout.tolist():
            coefs.append(np.arange(w_at, b_at).reshape(n_out, n_in).T.ravel())
            intercepts.append(np.arange(b_at, b_at + n_out))
        return np.concatenate(coefs + intercepts)

    def _fit_lbfgs(self, X, Y, sample_weight):
        """scikit-learn's ``_fit_lbfgs``: scipy's L-BFGS-B over the packed parameters, with
        the options it passes; each loss and gradient one call of the kernels, the full
        batch, the L2 term ``alpha / 2 * sum(W**2)`` over the sample count (weight sum)."""
        from scipy.optimize import minimize
        from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
        from sklearn.utils.optimize import _check_optimize_result

        net, kernels, perm = self.network_, self._kernels(), self._packing()
        if sparse.issparse(X):
            X = X.toarray()
        X, Y = _kernel_array(X, net.dtype), _kernel_array(Y, net.dtype)
        if sample_weight is not None:
            sample_weight = _kernel_array(sample_weight, net.dtype)
        shape, alpha = net.kernel_shape, float(self.alpha)
        weights = np.zeros(shape.n_params, dtype=bool)
        for n_in, n_out, w_at, _ in net.layout.tolist():
            weights[w_at:w_at + n_in * n_out] = True
        params = net.params.copy()
        scale = Y.shape[1] if self._loss_code == functions.SQUARED else 1
        # One thread unless asked: scipy's BLAS leaves its threads spinning between our
        # calls, and a second thread of ours then waits at each barrier (breast cancer's
        # fit took 9x as long on the 2-vCPU VM).
        threads = 1 if self._threads is None else self._threads

        def loss_grad(packed):
            params[perm] = packed
            loss, grad = kernels.loss_and_gradients(shape, self._loss_code, params, X, Y,
                                                    threads, alpha, sample_weight)
            total = float(X.shape[0]) if sample_weight is None else float(sample_weight.sum())
            w = params[weights]
            return loss / scale + 0.5 * alpha * float(np.dot(w, w)) / total, grad[perm]

        iprint = 1 if self.verbose is True or self.verbose >= 1 else -1
        result = minimize(loss_grad, net.params[perm], method="L-BFGS-B", jac=True,
                          options={"maxfun": self.max_fun, "maxiter": self.max_iter,
                                   "gtol": self.tol,
                                   **_get_additional_lbfgs_options_dict("iprint", iprint)})
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = float(result.fun)
        net.params[perm] = result.x

    def _kernels(self):
        """The backend module that trains (looked up, not stored: estimators pickle)."""
        return resolve(self.backend_)[1]

    def _expose(self):
        """The fitted attributes scikit-learn's MLP has, from ``network_``."""
        self.coefs_ = [w.T.copy() for w in self.network_.weights]
        self.intercepts_ = [b.copy() for b in self.network_.biases]

    def _outputs(self, X):
        check_is_fitted(self, "network_")
        X = validate_data(self, X, accept_sparse=["csr", "csc"],
                          dtype=(np.float64, np.float32), reset=False)
        net = self.network_
        if X.dtype != net.dtype and net.dtype == np.float32:
            # float64 data meets float32 coefficients: scikit-learn's products then run in
            # float64, and so does this (the coefficients widened exactly)
            net = Network(net.sizes, list(net.activations), net.bias, weights=net.weights,
                          biases=net.biases)
        if sparse.issparse(X):
            return np.concatenate([
                net.forward(X[i:i + _DENSE_ROWS].toarray(), backend=self.backend_,
                            threads=self._threads)
                for i in range(0, X.shape[0], _DENSE_ROWS)]) if X.shape[0] else \
                net.forward(np.zeros((0, X.shape[1])), backend=self.backend_)
        return net.forward(X, backend=self.backend_, threads=self._threads)

    def _check_stochastic(self):
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True


def _kernel_array(array, dtype):
    """``array`` as the kernels take it: C-contiguous and writable, of the network's
    ``dtype`` (a read-only memmap would have numba compile every kernel again for
    read-only arrays, 30 s)."""
    return np.require(array, dtype, ["C", "W"])


#: Rows of a sparse ``X`` densified at a time to predict.
_DENSE_ROWS = 1024


_PARAMETERS = """\
    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default (100,)
        The width of each hidden layer.
    activation : {"relu", "tanh", "logistic", "sigmoid", "identity"}, default "relu"
        Hidden layers' activation ("sigmoid" is "logistic").
    solver : {"adam", "sgd", "lbfgs"}, default "adam"
        "adam" and "sgd" train in fastbp's kernels, epoch by epoch, with scikit-learn's
        optimizers (:class:`fastbp.Adam`, :class:`fastbp.SGD`); "lbfgs" runs scipy's
        L-BFGS-B on the full batch, each loss and gradient one call of the kernels.
    alpha : float, default 0.0001
        L2 penalty: each batch's summed weight gradient gets ``alpha * W`` before the
        division by the batch size (computed in the kernels, as ``weight_decay``).
    batch_size : int or "auto", default "auto"
        ``min(200, n_samples)`` for "auto"; clipped to the number of samples.
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        SGD's schedules: "invscaling" sets ``learning_rate_init / (t + 1) ** power_t``
        after each epoch (``t``: samples seen); "adaptive" divides the rate by 5 when
        ``n_iter_no_change`` epochs fail to improve by ``tol``.
    learning_rate_init : float, default 0.001
    power_t : float, default 0.5
    max_iter : int, default 200
        Epochs (one each call of ``partial_fit``); L-BFGS's iterations.
    shuffle : bool, default True
        Shuffle the samples each epoch, as scikit-learn does, from ``random_state``.
    random_state : int, RandomState instance or None
        Seeds the initial weights, the validation split and the shuffling.
    tol : float, default 1e-4
    verbose : bool, default False
        Print the loss after each epoch.
    warm_start : bool, default False
        Continue from the fitted network in ``fit`` (the optimizer restarts).
    momentum : float in [0, 1], default 0.9
        SGD's momentum.
    nesterovs_momentum : bool, default True
        Nesterov's momentum for SGD, as scikit-learn's; False: classical momentum.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` (stratified) and stop when its score does not
        improve by ``tol`` for ``n_iter_no_change`` epochs; keep the best network.
    validation_fraction : float, default 0.1
    beta_1, beta_2 : float in [0, 1), default 0.9 and 0.999
        Adam's decay rates of the first and second moments.
    epsilon : float, default 1e-8
        Adam's term that keeps the division finite.
    n_iter_no_change : int, default 10
    max_fun : int, default 15000
        L-BFGS's most calls of the loss.
    backend : str, default "auto"
        A fastbp backend: every backend gives the same bits.
    threads : int or None
        Threads for the compiled backends (the bits do not depend on it).
    bias : {"trainable", "fixed"}, default "trainable"
"""

_ATTRIBUTES = """\
    Attributes
    ----------
    coefs_ : list of ndarray, ``(n_in, n_out)`` each
    intercepts_ : list of ndarray
    loss_ : float
        The last epoch's loss, as scikit-learn defines it (measured after the epoch);
        L-BFGS's final loss.
    loss_curve_ : list of float
        Stochastic solvers only.
    best_loss_ : float or None
        Stochastic solvers only.
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
    t_ : int
        Samples seen by the stochastic solvers.
    n_features_in_ : int
    feature_names_in_ : ndarray
    n_layers_, n_outputs_ : int
    out_activation_ : str
    network_ : fastbp.Network
        The trained network.
    backend_ : str
        The backend that ran.
"""


class FastBPClassifier(ClassifierMixin, _FastBP):
    """Multi-layer perceptron classifier trained by fastbp: ``MLPClassifier``'s interface,
    parameters and defaults (Adam; SGD with Nesterov's or classical momentum; L-BFGS).

    Binary and multilabel targets get logistic outputs, multiclass targets a softmax,
    both trained on cross-entropy. Labels may be any values ``LabelBinarizer`` takes
    (strings, integers, booleans).

{parameters}
    Attributes
    ----------
    classes_ : ndarray
{attributes}
    Notes
    -----
    What differs from ``MLPClassifier`` is listed in ``docs/sklearn.md``.
    """

    _score_function = staticmethod(accuracy_score)

    def _prepare(self, X, y, first, incremental, classes):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"],
                             dtype=(np.float64, np.float32), multi_output=True, reset=first)
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

    @available_if(lambda est: est._check_stochastic())
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``X, y``; ``classes`` (every label) is needed on the first call.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array of shape (n_classes,), default=None

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

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
        tags.input_tags.sparse = True
        return tags


class FastBPRegressor(RegressorMixin, _FastBP):
    """Multi-layer perceptron regressor trained by fastbp: ``MLPRegressor``'s interface,
    parameters and defaults (Adam; SGD with Nesterov's or classical momentum; L-BFGS).

    Identity outputs trained on squared error; one or many targets. Early stopping
    scores the held-out fraction with R². ``loss_`` is scikit-learn's squared error,
    ``mean((y - y_pred) ** 2) / 2`` over samples and outputs, plus its L2 term.

    Parameters
    ----------
    loss : {"squared_error"}, default "squared_error"
        scikit-learn's "poisson" needs an exponential output layer, which fastbp has not.
{parameters}
{attributes}
    Notes
    -----
    What differs from ``MLPRegressor`` is listed in ``docs/sklearn.md``.
    """

    _parameter_constraints: dict = {  # noqa: RUF012
        **_FastBP._parameter_constraints, "loss": [StrOptions({"squared_error", "poisson"})]}

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, loss="squared_error",
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 backend="auto", threads=None, bias="trainable"):
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state,
            tol=tol, verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
            backend=backend, threads=threads, bias=bias)
        self.loss = loss

    _score_function = staticmethod(r2_score)

    def _check_loss(self):
        if self.loss == "poisson":
            raise ValueError("loss='poisson' needs an exponential output layer, which fastbp "
                             "does not have; use loss='squared_error'")

    def _prepare(self, X, y, first, incremental, classes):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"],
                             dtype=(np.float64, np.float32), multi_output=True,
                             y_numeric=True, reset=first)
        Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        self._out_activation, self._loss_code = "identity", functions.SQUARED
        return X, Y

    @available_if(lambda est: est._check_stochastic())
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``X, y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predicted targets: ``(n_samples,)`` for one output, else ``(n_samples, n_outputs)``."""
        out = self._outputs(X)
        return out.ravel() if self.n_outputs_ == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.input_tags.sparse = True
        return tags


FastBPClassifier.__doc__ = FastBPClassifier.__doc__.replace(
    "{parameters}", _PARAMETERS).replace("{attributes}", _ATTRIBUTES.split("----------\n", 1)[1])
FastBPRegressor.__doc__ = FastBPRegressor.__doc__.replace(
    "{parameters}", _PARAMETERS.split("----------\n", 1)[1]).replace("{attributes}", _ATTRIBUTES)
