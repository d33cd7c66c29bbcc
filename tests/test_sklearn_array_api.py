"""scikit-learn's own estimators and functions on multigrad tensors (array API dispatch): the
results stay on the graph, and their gradients, with respect to the data and to
hyperparameters, agree with central differences.

What cannot differentiate is tested too, so that the limits in docs/ecosystem.md stay
true: metrics that return Python floats, and solvers that only run on NumPy.
"""

from __future__ import annotations

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is in the 'test' extra")
from sklearn import decomposition, discriminant_analysis, linear_model, metrics  # noqa: E402
from sklearn import preprocessing  # noqa: E402
from sklearn.metrics import pairwise  # noqa: E402

import multigrad as mg  # noqa: E402

# StandardScaler divides 0 by 0 on purpose (scikit-learn masks the result, and silences NumPy's
# warning only for NumPy arrays)
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")


@pytest.fixture(autouse=True)
def array_api_dispatch():
    with sklearn.config_context(array_api_dispatch=True):
        yield


@pytest.fixture
def data(rng):
    x = mg.tensor(rng.standard_normal((10, 3)), requires_grad=True)
    y = mg.tensor(rng.standard_normal(10))
    labels = mg.asarray(np.arange(10) % 2)
    return x, y, labels


def _functions(y, labels):
    return {
        "pairwise.rbf_kernel": lambda x: pairwise.rbf_kernel(x, gamma=0.3),
        "pairwise.polynomial_kernel": lambda x: pairwise.polynomial_kernel(x, degree=2),
        "pairwise.cosine_similarity": lambda x: pairwise.cosine_similarity(x),
        "pairwise.euclidean_distances": lambda x: pairwise.euclidean_distances(x, x[:3] + 1.0),
        "Ridge(solver='svd').coef_": lambda x: linear_model.Ridge(
            alpha=0.5, solver="svd").fit(x, y).coef_,
        "Ridge(solver='svd').predict": lambda x: linear_model.Ridge(
            alpha=0.5, solver="svd").fit(x, y).predict(x),
        "PCA.fit_transform": lambda x: decomposition.PCA(2).fit_transform(x),
        "LinearDiscriminantAnalysis.coef_": lambda x: discriminant_analysis.
        LinearDiscriminantAnalysis().fit(x, labels).coef_,
        "StandardScaler.fit_transform": lambda x: preprocessing.StandardScaler().fit_transform(x),
        "normalize": lambda x: preprocessing.normalize(x),
        "PolynomialFeatures.fit_transform": lambda x: preprocessing.PolynomialFeatures(
            2).fit_transform(x),
    }


NAMES = list(_functions(None, None))


@pytest.mark.parametrize("name", NAMES)
def test_gradients_through_scikit_learn_match_central_differences(name, data):
    x, y, labels = data
    fn = _functions(y, labels)[name]
    out = fn(x)
    assert isinstance(out, mg.Tensor) and out.requires_grad, name
    mg.gradcheck(fn, x)


def test_ridge_coefficients_differentiate_with_respect_to_alpha(data):
    x, y, _ = data
    x = x.detach()

    def coef(alpha):
        return linear_model.Ridge(alpha=alpha, solver="svd").fit(x, y).coef_

    alpha = mg.tensor(0.7, requires_grad=True)
    mg.gradcheck(coef, alpha)
    # the closed form: d/d alpha (X'X + alpha I)^-1 X'y = -(X'X + alpha I)^-1 coef, with the
    # data centred as Ridge centres it (fit_intercept)
    xc = x.numpy() - x.numpy().mean(axis=0)
    gram = xc.T @ xc + 0.7 * np.eye(3)
    w = np.linalg.solve(gram, xc.T @ (y.numpy() - y.numpy().mean()))
    (g,) = mg.autograd.grad(mg.sum(coef(alpha)), [alpha])
    np.testing.assert_allclose(g.item(), -np.sum(np.linalg.solve(gram, w)), rtol=1e-10)


def test_scikit_learn_on_device1_stays_there(rng):
    x = mg.tensor(rng.standard_normal((8, 3)), device="strict:device1", requires_grad=True)
    y = mg.tensor(rng.standard_normal(8), device="strict:device1")
    coef = linear_model.Ridge(alpha=1.0, solver="svd").fit(x, y).coef_
    (g,) = mg.autograd.grad(mg.sum(coef ** 2), [x])
    assert coef.device == "strict:device1" and g.device == "strict:device1"


def test_the_limits_say_what_they_are(data):
    x, y, _ = data
    # metrics return Python floats: the graph ends there
    assert isinstance(metrics.r2_score(y, x[:, 0]), float)
    assert isinstance(metrics.mean_squared_error(y, x[:, 0]), float)
    # a solver that runs on NumPy only (LinearRegression's scipy.linalg.lstsq) refuses a
    # tensor on the graph rather than leaving it silently
    with pytest.raises(TypeError, match="cannot convert a tensor that requires gradients"):
        linear_model.LinearRegression().fit(x, y)
