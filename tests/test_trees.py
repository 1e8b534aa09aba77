"""The NumPy reader of LightGBM text models gives LightGBM's own predictions."""

import numpy as np
import pytest

from paratheme.classifier import DEFAULT_MODEL
from paratheme.trees import TreeFormatError, Trees

lightgbm = pytest.importorskip("lightgbm")


def fitted(params: dict, x: np.ndarray, y: np.ndarray, rounds: int = 30):
    data = lightgbm.Dataset(x, label=y, feature_name=[f"f{i}" for i in range(x.shape[1])])
    return lightgbm.train({"verbosity": -1, "num_threads": 1, "min_data_in_leaf": 5, **params}, data, rounds)


def toy(seed: int = 0, rows: int = 600):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 5))
    x[rng.random(x.shape) < 0.15] = np.nan
    x[rng.random(x.shape) < 0.15] = 0.0
    y = (np.nan_to_num(x[:, 0], nan=1.0) + (x[:, 1] == 0) - np.isnan(x[:, 2]) + rng.normal(scale=0.3, size=rows)) > 0.5
    return x, y


@pytest.mark.parametrize("params", [
    {"objective": "binary"},  # NaN as its own branch (missing type NaN)
    {"objective": "binary", "zero_as_missing": True},  # missing type zero
    {"objective": "binary", "use_missing": False},  # missing type none: NaN reads as 0
    {"objective": "binary", "sigmoid": 0.5, "num_leaves": 7},
    {"objective": "binary", "min_data_in_leaf": 10_000},  # one-leaf trees only
])
def test_predictions_equal_lightgbm(params):
    x, y = toy()
    booster = fitted(params, x, y)
    test, _ = toy(seed=1, rows=300)
    test = np.vstack([test, [[np.inf, -np.inf, 1e-40, -0.0, 1e30]]])
    np.testing.assert_allclose(Trees.from_text(booster.model_to_string()).predict(test), booster.predict(test),
                               rtol=1e-12, atol=1e-12)


def test_the_shipped_page_model_equals_lightgbm():
    text = (DEFAULT_MODEL / "page_model.txt").read_text(encoding="utf-8")
    trees, booster = Trees.from_text(text), lightgbm.Booster(model_str=text)
    rng = np.random.default_rng(0)
    x = rng.normal(scale=3, size=(2000, len(trees.feature_names)))
    x[rng.random(x.shape) < 0.1] = np.nan
    np.testing.assert_allclose(trees.predict(x), booster.predict(x), rtol=1e-12, atol=1e-12)
    assert trees.text == text


def test_models_it_cannot_read_are_refused_not_guessed():
    x, y = toy()
    multiclass = fitted({"objective": "multiclass", "num_class": 3}, x, (np.nan_to_num(x[:, 0]) > 0) + (y > 0), 3)
    with pytest.raises(TreeFormatError, match="only binary"):
        Trees.from_text(multiclass.model_to_string())
    categories = np.column_stack([np.arange(600) % 7, x[:, 1:]])
    data = lightgbm.Dataset(categories, label=categories[:, 0] % 2 == 0, categorical_feature=[0],
                            params={"verbosity": -1, "min_data_per_group": 5, "cat_smooth": 1})
    categorical = lightgbm.train({"objective": "binary", "verbosity": -1, "num_threads": 1}, data, 5)
    with pytest.raises(TreeFormatError, match="categorical"):
        Trees.from_text(categorical.model_to_string())
    with pytest.raises(TreeFormatError, match="not a LightGBM"):
        Trees.from_text('{"a": 1}')


def test_rows_of_the_wrong_width_are_an_error():
    x, y = toy()
    trees = Trees.from_text(fitted({"objective": "binary"}, x, y, 3).model_to_string())
    with pytest.raises(ValueError, match="rows of 5 features"):
        trees.predict(np.zeros((2, 4)))
