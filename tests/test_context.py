"""The page-context stage: boilerplate re-estimation and theme smoothing over neighbours."""

import json

import numpy as np
import pytest

from paratheme.context import ContextModel, features, theme_distribution, theme_features
from paratheme.labels import LABELS

B = LABELS.index("boilerplate")
INDUSTRY, OTHER = LABELS.index("industry"), LABELS.index("other")


def page(*rows):
    """Probabilities from {label: p} rows; the rest of each row's mass spread evenly."""
    out = np.full((len(rows), len(LABELS)), 0.0)
    for i, row in enumerate(rows):
        rest = (1 - sum(row.values())) / (len(LABELS) - len(row))
        out[i] = rest
        for label, p in row.items():
            out[i, LABELS.index(label)] = p
    return out


def neutral_boilerplate_stage(**kwargs) -> ContextModel:
    """A stage whose regression returns the base model's boilerplate probability (weight 1 on
    its own logit, the first feature), so that only the theme part acts."""
    n = features(page({"other": 0.9}), np.array([10]), B).shape[1]
    weights = np.zeros(n)
    weights[0] = 1.0
    return ContextModel(np.zeros(n), np.ones(n), weights, 0.0, **kwargs)


def test_a_paragraph_between_industry_paragraphs_leans_to_industry():
    probs = page({"industry": 0.9}, {"industry": 0.40, "other": 0.45}, {"industry": 0.9})
    lengths = np.array([200, 200, 200])
    plain = neutral_boilerplate_stage().apply(probs, lengths, LABELS)
    smoothed = neutral_boilerplate_stage(theme_weights=(0.54, 0.25)).apply(probs, lengths, LABELS)
    assert plain[1].argmax() == OTHER
    assert smoothed[1].argmax() == INDUSTRY
    np.testing.assert_allclose(smoothed.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(smoothed[:, B], plain[:, B], rtol=1e-6)  # themes never move boilerplate


def test_boilerplate_neighbours_do_not_pull_a_block_towards_their_themes():
    # The neighbours are chrome whose leftover mass happens to favour innovation.
    chrome = {"boilerplate": 0.98, "innovation": 0.015}
    probs = page(chrome, {"livelihood": 0.7}, chrome)
    own, neighbours = theme_features(probs, B)
    assert np.allclose(np.exp(neighbours[1]).sum(), 1.0)
    assert np.ptp(np.exp(neighbours[1])) < 0.15  # nearly flat: the chrome's 2% content weighs little
    smoothed = theme_distribution(own, neighbours, (0.54, 0.25))
    assert smoothed[1].argmax() == LABELS.index("livelihood") - (LABELS.index("livelihood") > B)


def test_weights_one_and_zero_keep_the_base_models_themes():
    probs = page({"industry": 0.5, "innovation": 0.3}, {"ecology": 0.8}, {"other": 0.6})
    own, neighbours = theme_features(probs, B)
    content = np.delete(probs, B, axis=1)
    np.testing.assert_allclose(theme_distribution(own, neighbours, (1.0, 0.0)),
                               content / content.sum(axis=1, keepdims=True), rtol=1e-5)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_short_pages(n):
    probs = page(*[{"other": 0.8}] * n) if n else np.zeros((0, len(LABELS)))
    out = neutral_boilerplate_stage(theme_weights=(0.5, 0.25)).apply(probs, np.full(n, 30), LABELS)
    assert out.shape == (n, len(LABELS))
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)


def test_theme_weights_survive_saving_and_old_files_still_load(tmp_path):
    model = neutral_boilerplate_stage(theme_weights=(0.5, 0.25))
    model.save(tmp_path, {"split": "dev"})
    assert ContextModel.load(tmp_path).theme_weights == (0.5, 0.25)
    data = json.loads((tmp_path / "context.json").read_text())
    del data["theme_weights"]  # a context.json written before the theme stage existed
    (tmp_path / "context.json").write_text(json.dumps(data))
    assert ContextModel.load(tmp_path).theme_weights is None


def test_fitting_recovers_neighbour_weight_from_pages_where_sections_run_together():
    from training.train_context import fit_theme_weights

    rng = np.random.default_rng(0)
    pages = []
    for _ in range(30):
        # Reports run in sections: ten paragraphs of one theme, then another; the base model is
        # right 60% of the time, so the neighbours carry real information.
        gold = np.repeat(rng.choice([INDUSTRY, OTHER, LABELS.index("ecology")], size=3), 10)
        probs = np.full((len(gold), len(LABELS)), 0.05)
        for i, g in enumerate(gold):
            guess = g if rng.random() < 0.6 else rng.choice([INDUSTRY, OTHER])
            probs[i, guess] = 0.6
        probs /= probs.sum(axis=1, keepdims=True)
        pages.append((probs, np.full(len(gold), 100), gold))
    own, neighbour = fit_theme_weights(pages, B)
    assert neighbour > 0.2
