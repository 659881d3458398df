"""The feature extractors are interchangeable steps of one Pipeline; the pixel recipe works."""

import doctest

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from skdcsae import DCSAETransformer, VAETransformer

from .conftest import FAST_CONV, REPO_ROOT


def _pipe(features):
    return Pipeline([("features", features), ("svc", SVC())])


def test_swap_transformers_with_set_params(digits_binary):
    X, y = digits_binary
    pipe = _pipe(DCSAETransformer(**FAST_CONV, random_state=0)).fit(X, y)
    assert pipe[:-1].transform(X).shape == (len(X), 4)  # 2 heads x 2 dims
    pipe.set_params(features=VAETransformer(**FAST_CONV, random_state=0)).fit(X, y)
    assert isinstance(pipe.named_steps["features"], VAETransformer)
    assert pipe[:-1].transform(X).shape == (len(X), 2)
    assert pipe.predict(X).shape == (len(X),)
    # and the parameters of whatever step is in place are reachable
    pipe.set_params(features__n_components=3).fit(X, y)
    assert pipe[:-1].transform(X).shape == (len(X), 3)


def test_gridsearch_over_the_choice_of_transformer(digits_binary):
    X, y = digits_binary
    candidates = [
        DCSAETransformer(**FAST_CONV, random_state=0),
        VAETransformer(**FAST_CONV, random_state=0),
    ]
    grid = GridSearchCV(_pipe(candidates[0]), {"features": candidates}, cv=2).fit(X, y)
    tried = [type(p["features"]).__name__ for p in grid.cv_results_["params"]]
    assert tried == ["DCSAETransformer", "VAETransformer"]
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert type(grid.best_estimator_.named_steps["features"]) is type(grid.best_params_["features"])
    assert grid.predict(X).shape == (len(X),)


def test_gridsearch_over_transformers_and_their_params(digits_binary):
    X, y = digits_binary
    grid = GridSearchCV(
        _pipe(DCSAETransformer(**FAST_CONV, random_state=0)),
        [
            {
                "features": [DCSAETransformer(**FAST_CONV, random_state=0)],
                "features__rho": [2.0, 5.0],
            },
            {"features": [VAETransformer(**FAST_CONV, random_state=0)]},
        ],
        cv=2,
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 3


def test_pixel_baseline_recipe_in_docs():
    """docs/baselines.rst's code runs as written (it is a doctest)."""
    path = REPO_ROOT / "docs" / "baselines.rst"
    if not path.is_file():
        pytest.skip("docs/ is not in this checkout")
    result = doctest.testfile(str(path), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_pixel_baseline_pipeline(digits_binary):
    """PCA + SVC on the donor's raw pixels, images flattened first."""
    X, y = digits_binary
    flat = X.reshape(len(X), -1)
    model = Pipeline([("pca", PCA(n_components=0.95, random_state=0)), ("svc", SVC())])
    model.fit(flat[::2], y[::2])
    assert model.named_steps["pca"].n_components_ < flat.shape[1]
    assert model.score(flat[1::2], y[1::2]) > 0.95
