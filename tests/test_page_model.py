"""The page labeler: structure records from the page reader, features, and the fitted stage."""

import json

import numpy as np
import pytest

from paratheme.trees import Trees
from paratheme.labels import LABELS
from paratheme.page_model import PageModel, feature_names, page_features, theme_distribution, theme_features
from paratheme.pages import Block, read_page

B = LABELS.index("boilerplate")
INDUSTRY, OTHER = LABELS.index("industry"), LABELS.index("other")

PAGE = """<html><head><title>示例新闻_江城网</title></head><body>
<div class="nav"><a href="/">首页</a><a href="/n">新闻</a><a href="/t">科技</a></div>
<div class="article-content"><h1>江城新建三座污水处理厂</h1>
<p>江城今年投入资金建设三座污水处理厂，日处理能力提高一倍。</p>
<p>新厂采用<a href="/x">膜处理</a>工艺，出水水质达到一级标准。</p>
<figure><img src="a.jpg"><figcaption>建设中的城东污水处理厂</figcaption></figure></div>
<ul class="related-list"><li><a href="/1">相关新闻一</a></li><li><a href="/2">相关新闻二</a></li></ul>
<div class="footer">版权所有 江城网</div></body></html>"""


def probs(*rows):
    """Probabilities from {label: p} rows; the rest of each row's mass spread evenly."""
    out = np.zeros((len(rows), len(LABELS)))
    for i, row in enumerate(rows):
        out[i] = (1 - sum(row.values())) / (len(LABELS) - len(row))
        for label, p in row.items():
            out[i, LABELS.index(label)] = p
    return out


def test_html_blocks_carry_their_structure():
    blocks = read_page(PAGE.encode())
    by_text = {b.text: b.structure for b in blocks}
    assert by_text["示例新闻_江城网"].in_head and by_text["示例新闻_江城网"].tag == "title"
    nav = by_text["首页新闻科技"]
    assert nav.link_chars == len("首页新闻科技") and "nav" in nav.attrs
    body = by_text["新厂采用膜处理工艺，出水水质达到一级标准。"]
    assert body.tag == "p" and body.link_chars == len("膜处理") and "content" in body.attrs
    assert body.same_path == 2  # the two body paragraphs share a tag path
    assert by_text["江城新建三座污水处理厂"].in_heading
    assert by_text["建设中的城东污水处理厂"].in_caption
    related = by_text["相关新闻一"]
    assert related.in_list and related.same_path == 2 and "related" in related.attrs
    offsets = [b.structure.offset for b in blocks]
    assert offsets == sorted(offsets) and offsets[0] == 0


def test_text_pages_have_no_structure_and_hashes_ignore_it():
    assert all(b.structure is None for b in read_page("第一行\n第二行".encode()))
    html_block = read_page(PAGE.encode())[2]
    assert html_block == Block(html_block.position, html_block.text)  # structure does not take part in equality
    assert html_block.hash == Block(0, html_block.text).hash


def test_features_have_one_row_per_block_and_fixed_names():
    blocks = read_page(PAGE.encode())
    p = probs(*[{"other": 0.5}] * len(blocks))
    x, names = page_features(blocks, p, LABELS)
    assert x.shape == (len(blocks), len(feature_names(LABELS))) and names == feature_names(LABELS)
    assert not np.isnan(x[:, names.index("link_share")]).any()
    text_blocks = read_page("一\n二\n三".encode())
    x_text, _ = page_features(text_blocks, probs(*[{"other": 0.5}] * 3), LABELS)
    assert np.isnan(x_text[:, names.index("link_share")]).all()  # structure is missing, not zero
    assert x_text[:, names.index("html")].tolist() == [0, 0, 0]


def test_a_paragraph_between_industry_paragraphs_leans_to_industry():
    p = probs({"industry": 0.9}, {"industry": 0.40, "other": 0.45}, {"industry": 0.9})
    own, neighbours = theme_features(p, B)
    assert theme_distribution(own, neighbours, (1.0, 0.0))[1].argmax() == OTHER - (OTHER > B)
    assert theme_distribution(own, neighbours, (0.54, 0.25))[1].argmax() == INDUSTRY - (INDUSTRY > B)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A page model fitted on a toy task: blocks inside a list are chrome."""
    lightgbm = pytest.importorskip("lightgbm")
    blocks = read_page(PAGE.encode())
    p = probs(*[{"other": 0.5}] * len(blocks))
    x, names = page_features(blocks, p, LABELS)
    y = x[:, names.index("in_list")] > 0
    data = lightgbm.Dataset(np.tile(x, (20, 1)), label=np.tile(y, 20), feature_name=names)
    booster = lightgbm.train({"objective": "binary", "verbosity": -1, "min_data_in_leaf": 1, "num_threads": 1}, data, 20)
    folder = tmp_path_factory.mktemp("model")
    PageModel(Trees.from_text(booster.model_to_string()), (1.0, 0.0), {"note": "toy"}).save(folder)
    return folder, blocks, p


def test_saved_page_model_loads_without_pickle_and_revises_a_page(fitted):
    folder, blocks, p = fitted
    assert json.loads((folder / "page_model.json").read_text())["info"] == {"note": "toy"}
    assert (folder / "page_model.txt").read_text().startswith("tree")  # LightGBM's text format
    model = PageModel.load(folder)
    out = model.apply(blocks, p, LABELS)
    assert out.shape == p.shape and np.allclose(out.sum(axis=1), 1)
    in_list = [b.structure.in_list for b in blocks]
    assert all(out[i, B] > 0.5 for i, flag in enumerate(in_list) if flag)
    assert all(out[i, B] < 0.5 for i, flag in enumerate(in_list) if not flag)


def test_a_page_model_fitted_on_other_features_is_refused(fitted, tmp_path):
    folder, blocks, p = fitted
    meta = json.loads((folder / "page_model.json").read_text())
    meta["feature_names"] = meta["feature_names"][:-1] + ["a_feature_this_code_does_not_compute"]
    (tmp_path / "page_model.json").write_text(json.dumps(meta))
    (tmp_path / "page_model.txt").write_text((folder / "page_model.txt").read_text())
    with pytest.raises(ValueError, match="refit"):
        PageModel.load(tmp_path).apply(blocks, p, LABELS)


def test_a_folder_without_a_page_model_has_none(tmp_path):
    assert PageModel.load(tmp_path) is None


def test_extractor_ablation_maps_main_text_to_blocks_in_page_order():
    from training.ablate_extractors import extractor_columns, kept

    blocks = read_page(PAGE.encode(), kind="html")
    # An extractor's main text that quotes a related-news headline before the article: anywhere
    # in the text counts for the substring mapping, only in page order for the ordered one.
    main = ("相关新闻一\n江城新建三座污水处理厂\n江城今年投入资金建设三座污水处理厂，日处理能力提高一倍。\n"
            "新厂采用膜处理工艺，出水水质达到一级标准。")
    texts = [b.text for b in blocks]
    by_substring = dict(zip(texts, kept(blocks, main, "substring")))
    by_order = dict(zip(texts, kept(blocks, main, "ordered")))
    for body in ("江城新建三座污水处理厂", "新厂采用膜处理工艺，出水水质达到一级标准。"):
        assert by_substring[body] == by_order[body] == 1
    assert by_substring["相关新闻一"] == 1 and by_order["相关新闻一"] == 0
    assert by_substring["版权所有 江城网"] == by_order["版权所有 江城网"] == 0
    columns, names = extractor_columns(blocks, {"gne": main}, ("gne",), "ordered")
    assert columns.shape == (len(blocks), 6) and names[0] == "gne_kept"
    assert (columns[:, names.index("gne_found")] == 1).all()
