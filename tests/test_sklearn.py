"""fastbp.sklearn: scikit-learn's own estimator checks, its model-selection tools, real
data, and the same updates as MLPClassifier / MLPRegressor with the same settings."""

import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="the sklearn extra is not installed")

from sklearn.base import clone  # noqa: E402
from sklearn.compose import TransformedTargetRegressor  # noqa: E402
from sklearn.datasets import (  # noqa: E402
    load_breast_cancer,
    load_diabetes,
    load_digits,
    make_multilabel_classification,
)
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fastbp  # noqa: E402
from fastbp.sklearn import FastBPClassifier, FastBPRegressor  # noqa: E402


@parametrize_with_checks([FastBPClassifier(), FastBPRegressor()],
                         expected_failed_checks=lambda est: {})
def test_scikit_learn_estimator_checks(estimator, check):
    """Every check scikit-learn has; it skips two that do not apply (array API input,
    without SCIPY_ARRAY_API=1; decision_function, which MLPs do not have)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, random_state=0)


SETTINGS = {"hidden_layer_sizes": (32,), "batch_size": 32, "learning_rate_init": 0.01,
            "max_iter": 15, "random_state": 0}


def test_digits_in_a_pipeline_on_every_backend(backend):
    Xtr, Xte, ytr, yte = digits()
    model = make_pipeline(StandardScaler(), FastBPClassifier(backend=backend, **SETTINGS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(Xtr, ytr)
    assert model.score(Xte, yte) >= 0.95
    reference = make_pipeline(StandardScaler(), FastBPClassifier(backend="numba", **SETTINGS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference.fit(Xtr, ytr)
    assert np.array_equal(model[-1].network_.params, reference[-1].network_.params)
    assert model[-1].loss_curve_ == reference[-1].loss_curve_
    proba = model.predict_proba(Xte)
    assert proba.shape == (len(Xte), 10) and np.allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(model.classes_, np.arange(10))


def test_breast_cancer_binary_with_string_labels(backend):
    X, y = load_breast_cancer(return_X_y=True)
    labels = np.array(["benign", "malignant"])[y]
    Xtr, Xte, ytr, yte = train_test_split(X, labels, random_state=42, stratify=labels)
    model = make_pipeline(StandardScaler(), FastBPClassifier(
        hidden_layer_sizes=(8,), activation="tanh", learning_rate_init=0.01, batch_size=32,
        max_iter=30, random_state=0, backend=backend))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(Xtr, ytr)
    assert model.score(Xte, yte) >= 0.95
    clf = model[-1]
    assert list(clf.classes_) == ["benign", "malignant"]
    assert clf.predict_proba(Xte[:3]).shape == (3, 2)
    assert set(clf.predict(Xte)) <= {"benign", "malignant"}


def test_early_stopping_keeps_the_best_network():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = FastBPClassifier(learning_rate_init=0.05, batch_size=32, early_stopping=True,
                           random_state=0).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_ < clf.max_iter
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    # The kept network is the one of the best epoch, not the last: replay to it.
    best = int(np.argmax(clf.validation_scores_)) + 1
    replay = FastBPClassifier(learning_rate_init=0.05, batch_size=32, early_stopping=True,
                              random_state=0, max_iter=best, n_iter_no_change=10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        replay.fit(X, y)
    assert np.array_equal(replay.network_.params, clf.network_.params)


def test_diabetes_regression(backend):
    X, y = load_diabetes(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=42, test_size=0.2)
    model = TransformedTargetRegressor(make_pipeline(StandardScaler(), FastBPRegressor(
        hidden_layer_sizes=(16,), activation="tanh", learning_rate_init=0.01, batch_size=16,
        early_stopping=True, random_state=0, max_iter=300, backend=backend)),
        transformer=StandardScaler())
    model.fit(Xtr, ytr)
    assert model.score(Xte, yte) >= 0.4


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("schedule", ["constant", "invscaling", "adaptive"])
@pytest.mark.parametrize("nesterov", [False, True])
def test_the_same_updates_as_mlpclassifier(activation, schedule, nesterov):
    """Same initial weights, shuffled orders, L2 term, momentum (classical and Nesterov's)
    and schedule as MLPClassifier(solver="sgd"): the weights agree to rounding."""
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:400]
    y = y[:400]
    settings = {"hidden_layer_sizes": (20, 12), "activation": activation, "batch_size": 25,
                "learning_rate_init": 0.02, "learning_rate": schedule, "power_t": 0.25,
                "alpha": 0.01, "momentum": 0.8, "max_iter": 6, "random_state": 3,
                "tol": 1e9, "n_iter_no_change": 2,  # adaptive: the rate drops after 3 epochs
                "solver": "sgd", "nesterovs_momentum": nesterov}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = FastBPClassifier(**settings).fit(X, y)
        theirs = MLPClassifier(**settings).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=0, atol=1e-9)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)


def test_the_same_updates_as_mlpregressor_with_two_outputs():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Y = np.column_stack([y, -y]) / 100.0
    settings = {"hidden_layer_sizes": (7,), "batch_size": 10, "learning_rate_init": 0.01,
                "alpha": 0.1, "max_iter": 4, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = FastBPRegressor(solver="sgd", nesterovs_momentum=False, **settings).fit(X, Y)
        theirs = MLPRegressor(solver="sgd", nesterovs_momentum=False, **settings).fit(X, Y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    assert ours.predict(X).shape == (len(X), 2)


def _close(ours, theirs, atol):
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)


SOLVERS = [{"solver": "adam"}, {"solver": "adam", "beta_1": 0.8, "beta_2": 0.99,
                                  "epsilon": 1e-6},
           {"solver": "sgd", "nesterovs_momentum": True},
           {"solver": "sgd", "nesterovs_momentum": False}]


@pytest.mark.parametrize(("solver", "weighted", "backend"), [
    *[(solver, weighted, "numba") for solver in SOLVERS for weighted in (False, True)],
    *[(SOLVERS[0], True, name) for name in ("python", "cython")]],
    ids=lambda v: "-".join(map(str, v.values())) if isinstance(v, dict) else str(v))
def test_every_solver_updates_as_scikit_learn_does(solver, weighted, backend):
    """15 epochs from the same random_state, alpha > 0, with and without sample weights:
    weights, loss_curve_ (each batch's loss, in the kernels) and n_iter_ agree (every
    backend gives the same bits: test_optimizers.py)."""
    from conftest import _require

    _require(backend)
    X, y = load_digits(return_X_y=True)
    X, y = StandardScaler().fit_transform(X)[:300], y[:300]
    weights = np.random.default_rng(0).uniform(0.2, 3.0, len(X)) if weighted else None
    settings = {"hidden_layer_sizes": (16,), "batch_size": 20, "learning_rate_init": 0.01,
                "alpha": 0.05, "max_iter": 15, "random_state": 1, "tol": 1e9, **solver}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = FastBPClassifier(backend=backend, **settings).fit(X, y, sample_weight=weights)
        theirs = MLPClassifier(**settings).fit(X, y, sample_weight=weights)
    _close(ours, theirs, 1e-9)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=0, atol=1e-9)
    assert ours.best_loss_ == pytest.approx(theirs.best_loss_, abs=1e-9)


@pytest.mark.parametrize("solver", SOLVERS[::2], ids=lambda s: s["solver"])
def test_tol_and_early_stopping_stop_at_scikit_learns_epoch(solver):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    for extra in ({"tol": 1e-3, "n_iter_no_change": 3},
                  {"early_stopping": True, "n_iter_no_change": 3}):
        settings = {"hidden_layer_sizes": (8,), "batch_size": 32, "learning_rate_init": 0.01,
                    "alpha": 0.001, "max_iter": 200, "random_state": 0, **solver, **extra}
        ours = FastBPClassifier(**settings).fit(X, y)
        theirs = MLPClassifier(**settings).fit(X, y)
        assert ours.n_iter_ == theirs.n_iter_ < 200
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=0, atol=1e-9)
        if "early_stopping" in extra:
            assert ours.validation_scores_ == theirs.validation_scores_
        _close(ours, theirs, 1e-9)


def test_the_regressor_with_adam_and_weights_updates_as_mlpregressor():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Y = np.column_stack([y, -y]) / 100.0
    weights = np.linspace(0.5, 2.0, len(X))
    settings = {"hidden_layer_sizes": (7,), "batch_size": 10, "learning_rate_init": 0.01,
                "alpha": 0.1, "max_iter": 15, "random_state": 0, "tol": 1e9}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = FastBPRegressor(**settings).fit(X, Y, sample_weight=weights)
        theirs = MLPRegressor(**settings).fit(X, Y, sample_weight=weights)
    _close(ours, theirs, 1e-9)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=0, atol=1e-9)


@pytest.mark.parametrize("weighted", [False, True])
def test_lbfgs_as_scikit_learn(weighted, backend):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(X)) if weighted else None
    settings = {"solver": "lbfgs", "hidden_layer_sizes": (10,), "alpha": 0.01,
                "max_iter": 15, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = FastBPClassifier(backend=backend, **settings).fit(X, y, sample_weight=weights)
        theirs = MLPClassifier(**settings).fit(X, y, sample_weight=weights)
    _close(ours, theirs, 1e-6)
    assert ours.n_iter_ == theirs.n_iter_ and ours.loss_ == pytest.approx(theirs.loss_, abs=1e-9)
    assert not hasattr(ours, "loss_curve_")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as caught:
        ours.partial_fit(X, y)
    assert "only available for stochastic optimizers" in str(caught.value.__cause__)


def test_sparse_input_is_densified_batch_by_batch():
    from scipy import sparse

    X, y = load_digits(return_X_y=True)
    X, y = X[:200] / 16.0, y[:200]
    settings = {"hidden_layer_sizes": (10,), "batch_size": 32, "max_iter": 5,
                "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = FastBPClassifier(**settings).fit(X, y)
        csr = FastBPClassifier(**settings).fit(sparse.csr_matrix(X), y)
    assert np.array_equal(dense.network_.params, csr.network_.params)
    assert dense.loss_curve_ == csr.loss_curve_
    assert np.array_equal(csr.predict_proba(sparse.csc_matrix(X)), dense.predict_proba(X))


@pytest.mark.parametrize(("load", "folds"), [(load_breast_cancer, 3), (load_digits, 5)])
def test_default_parameters_score_as_scikit_learns(load, folds):
    X, y = load(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = cross_val_score(make_pipeline(StandardScaler(), FastBPClassifier(
            random_state=0)), X, y, cv=folds).mean()
        theirs = cross_val_score(make_pipeline(StandardScaler(), MLPClassifier(
            random_state=0)), X, y, cv=folds).mean()
    assert abs(ours - theirs) <= 0.01


def test_defaults_are_scikit_learns():
    import inspect

    for ours, theirs in ((FastBPClassifier, MLPClassifier), (FastBPRegressor, MLPRegressor)):
        mine = inspect.signature(ours).parameters
        for name, parameter in inspect.signature(theirs).parameters.items():
            assert mine[name].default == parameter.default, (ours.__name__, name)
    with pytest.raises(ValueError, match="poisson"):
        FastBPRegressor(loss="poisson").fit(np.ones((4, 2)), np.ones(4))


def test_multilabel_and_boolean_labels():
    X, Y = make_multilabel_classification(n_samples=120, n_classes=4, random_state=0)
    clf = FastBPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.05, max_iter=50,
                           random_state=0).fit(StandardScaler().fit_transform(X), Y)
    assert clf.out_activation_ == "logistic" and clf.predict(X).shape == (120, 4)
    assert clf.predict_proba(X).shape == (120, 4)
    booleans = Y[:, 0].astype(bool)
    clf = FastBPClassifier(max_iter=5, random_state=0).fit(X, booleans)
    assert clf.predict(X).dtype == bool and list(clf.classes_) == [False, True]


def test_grid_search_cross_val_clone_and_pickle():
    Xtr, Xte, ytr, _ = digits()
    model = make_pipeline(StandardScaler(), FastBPClassifier(max_iter=20, random_state=0,
                                                             batch_size=32))
    search = GridSearchCV(model, {"fastbpclassifier__learning_rate_init": [0.01, 0.1]},
                          cv=3, n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(Xtr, ytr)
        scores = cross_val_score(clone(model), Xtr, ytr, cv=3)
    assert search.best_params_["fastbpclassifier__learning_rate_init"] in (0.01, 0.1)
    assert len(scores) == 3 and scores.min() > 0.8
    fitted = search.best_estimator_
    again = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(again.predict_proba(Xte), fitted.predict_proba(Xte))
    net = fitted[-1].network_
    copy = pickle.loads(pickle.dumps(net))
    assert np.array_equal(copy.params, net.params) and copy.params.flags.writeable
    assert np.array_equal(copy.forward(Xte[:, :64]), net.forward(Xte[:, :64]))


def test_partial_fit_warm_start_and_verbose(capsys):
    Xtr, _, ytr, _ = digits()
    X = StandardScaler().fit_transform(Xtr)
    clf = FastBPClassifier(batch_size=50, learning_rate_init=0.05, random_state=0,
                           verbose=True)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X[:100], ytr[:100])
    for _ in range(3):
        clf.partial_fit(X, ytr, classes=np.arange(10))
    assert clf.n_iter_ == 3 and clf.t_ == 3 * len(X) and len(clf.loss_curve_) == 3
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Iteration 3, loss = " in out
    one = FastBPClassifier(batch_size=50, learning_rate_init=0.05, random_state=0,
                           max_iter=3, shuffle=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one.fit(X, ytr)
        curve = list(one.loss_curve_)
        one.set_params(warm_start=True, max_iter=2)
        one.fit(X, ytr)
    assert one.loss_curve_[:3] == curve and len(one.loss_curve_) == 5 and one.n_iter_ == 2
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        FastBPRegressor(early_stopping=True).partial_fit(X, ytr.astype(float))


def test_attributes_are_scikit_learn_shaped():
    X, y = load_breast_cancer(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = FastBPClassifier(hidden_layer_sizes=(5, 4), max_iter=3).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(30, 5), (5, 4), (4, 1)]
    assert [b.shape for b in clf.intercepts_] == [(5,), (4,), (1,)]
    assert clf.n_features_in_ == 30 and clf.n_layers_ == 4 and clf.n_outputs_ == 1
    assert isinstance(clf.network_, fastbp.Network) and clf.network_.sizes == (30, 5, 4, 1)
    assert clf.loss_ == clf.loss_curve_[-1] and clf.best_loss_ == min(clf.loss_curve_)


def test_sigmoid_and_clipped_batch_size():
    X, y = load_breast_cancer(return_X_y=True)
    with pytest.warns(UserWarning, match="batch_size"):
        clf = FastBPClassifier(activation="sigmoid", batch_size=10_000, max_iter=2).fit(X, y)
    assert clf.network_.activations[0] == "logistic"


@pytest.mark.parametrize(("params", "message"), [
    ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
    ({"activation": "swish"}, "activation"),
    ({"alpha": -1.0}, "alpha"),
    ({"learning_rate": "cosine"}, "learning_rate"),
    ({"momentum": 1.5}, "momentum"),
    ({"backend": "fortran"}, "fortran"),
    ({"solver": "newton"}, "solver"),
    ({"beta_1": 1.0}, "beta_1"),
    ({"epsilon": 0.0}, "epsilon"),
    ({"max_fun": 0}, "max_fun"),
])
def test_bad_parameters(params, message):
    X, y = load_breast_cancer(return_X_y=True)
    with pytest.raises(ValueError, match=message):
        FastBPClassifier(**params).fit(X, y)


def test_import_fastbp_does_not_import_sklearn():
    import subprocess
    import sys

    code = "import sys, fastbp; print('sklearn' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


# scikit-learn's own dtype tests (sklearn/neural_network/tests/test_mlp.py), on ours.
X_DIGITS, Y_DIGITS = load_digits(n_class=3, return_X_y=True)
X_DIGITS = X_DIGITS / X_DIGITS.max()


def test_classifier_dtypes_casting_as_scikit_learns():
    settings = {"alpha": 1e-5, "hidden_layer_sizes": (5, 3), "random_state": 1,
                "max_iter": 100, "tol": 1e-1}
    ours64 = FastBPClassifier(**settings).fit(X_DIGITS[:300], Y_DIGITS[:300])
    ours32 = FastBPClassifier(**settings).fit(X_DIGITS[:300].astype(np.float32),
                                              Y_DIGITS[:300])
    X32 = X_DIGITS[300:].astype(np.float32)
    np.testing.assert_array_equal(ours64.predict(X_DIGITS[300:]), ours32.predict(X32))
    np.testing.assert_allclose(ours64.predict_proba(X_DIGITS[300:]), ours32.predict_proba(X32),
                               rtol=1e-2)


def test_regressor_dtypes_casting_as_scikit_learns():
    settings = {"alpha": 1e-5, "hidden_layer_sizes": (5, 3), "random_state": 1,
                "max_iter": 150, "tol": 1e-3}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours64 = FastBPRegressor(**settings).fit(X_DIGITS[:300], Y_DIGITS[:300])
        ours32 = FastBPRegressor(**settings).fit(X_DIGITS[:300].astype(np.float32),
                                                 Y_DIGITS[:300])
    np.testing.assert_allclose(ours64.predict(X_DIGITS[300:]),
                               ours32.predict(X_DIGITS[300:].astype(np.float32)), rtol=5e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("Estimator", [FastBPClassifier, FastBPRegressor])
def test_parameters_and_predictions_keep_the_input_dtype(dtype, Estimator):
    X, y = X_DIGITS.astype(dtype), Y_DIGITS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = Estimator(alpha=1e-5, hidden_layer_sizes=(5, 3), random_state=1, max_iter=50,
                        tol=1e-1).fit(X[:300], y[:300])
    pred = mlp.predict(X[300:])
    assert all(intercept.dtype == dtype for intercept in mlp.intercepts_)
    assert all(coef.dtype == dtype for coef in mlp.coefs_)
    if Estimator is FastBPRegressor:
        assert pred.dtype == dtype
    else:
        assert mlp.predict_proba(X[300:]).dtype == dtype
    # float64 data meets float32 coefficients as in scikit-learn: computed in float64
    assert mlp.predict(X_DIGITS[300:].astype(np.float64)).dtype == (
        np.float64 if Estimator is FastBPRegressor else pred.dtype)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_float32_fits_have_the_same_bits_on_every_backend(solver, compiled_backend):
    if compiled_backend == "numba/own":
        pytest.skip("the estimators run numba's tiers as they come")
    X, y = X_DIGITS[:120].astype(np.float32), Y_DIGITS[:120]
    settings = {"hidden_layer_sizes": (9,), "batch_size": 16, "max_iter": 4,
                "random_state": 0, "alpha": 0.01, "solver": solver, "tol": 1e9}
    fits = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for backend in ("python", compiled_backend):
            fits.append(FastBPClassifier(backend=backend, **settings).fit(X, y))
    for ours, oracle in zip(fits[1].coefs_ + fits[1].intercepts_,
                            fits[0].coefs_ + fits[0].intercepts_):
        assert ours.dtype == np.float32 and np.array_equal(ours, oracle)
    assert fits[1].loss_ == fits[0].loss_
