"""Baselines that the model is compared with, on the same split.

Each block classifier follows scikit-learn's shapes: ``fit(texts, labels)``,
``predict_proba(texts) -> (n, len(LABELS))``. The extractor baselines only say which
blocks of an HTML page are main content.
"""

from __future__ import annotations

import re

import numpy as np

from paratheme.labels import BOILERPLATE, LABELS, OTHER


class TfidfLogisticRegression:
    """Character 1–3-gram TF-IDF with a class-balanced logistic regression."""

    name = "tfidf-char-lr"

    def __init__(self, max_features: int = 200_000, C: float = 10.0, seed: int = 0):
        self.max_features, self.C, self.seed = max_features, C, seed

    def fit(self, texts: list[str], labels: list[str]) -> "TfidfLogisticRegression":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        self.pipeline_ = make_pipeline(
            TfidfVectorizer(analyzer="char", ngram_range=(1, 3), max_features=self.max_features, sublinear_tf=True),
            LogisticRegression(C=self.C, max_iter=3000, class_weight="balanced", random_state=self.seed),
        )
        self.pipeline_.fit(texts, labels)
        return self

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        probs = self.pipeline_.predict_proba(texts)
        out = np.zeros((len(texts), len(LABELS)))
        for j, label in enumerate(self.pipeline_.classes_):
            out[:, LABELS.index(label)] = probs[:, j]
        return out


# A short lexicon per theme, in simplified and traditional forms, and page-chrome patterns.
LEXICON = {
    "innovation": "科技 科研 研发 創新 创新 实验室 實驗室 专利 專利 高新技术 高新技術 技术合同 成果转化 科学家 科學 芯片 人工智能 揭榜挂帅",
    "industry": "产业 產業 工业 工業 制造 製造 企业 企業 招商 项目 項目 园区 園區 产值 產值 集群 产业链 煤炭 钢铁 鋼鐵",
    "ecology": "生态 生態 环境 環境 污染 空气质量 空氣品質 水质 水質 绿化 綠化 碳达峰 碳中和 节能 節能 减排 減排 森林 湿地 濕地",
    "livelihood": "就业 就業 收入 医疗 醫療 医保 教育 学校 學校 养老 養老 托育 社会保障 社會保障 住房 民生 救助 幼儿园",
    "reputation": "入选 入選 上榜 排名 位列 荣获 榮獲 获评 獲評 称号 稱號 影响力 影響力 知名度 城市形象 美誉度 國際地位 国际地位",
}
CHROME = re.compile(
    r"^(首页|网易首页|分享|分享至|打印|收藏|关闭|关闭窗口|全屏|下载|相关推荐|热点推荐|推荐阅读|相关新闻|热门|登录|注册|"
    r"返回顶部|上一篇|下一篇|更多|评论|\d+)$|来源[:：]|责任编辑|编辑[:：]|版权所有|Copyright|ICP|公网安备|字号|扫一扫|"
    r"\d{4}[-/]\d{1,2}[-/]\d{1,2}|\d{1,2}:\d{2}|\||>|›|»", re.I)


class KeywordRules:
    """Chrome patterns first, then the theme with most lexicon hits; no hits means other."""

    name = "keyword-rules"

    def fit(self, texts=None, labels=None) -> "KeywordRules":
        self.lexicon_ = {label: words.split() for label, words in LEXICON.items()}
        return self

    def predict_one(self, text: str) -> str:
        if len(text) < 6 or (len(text) < 60 and CHROME.search(text)):
            return BOILERPLATE
        hits = {label: sum(text.count(w) for w in words) for label, words in self.lexicon_.items()}
        best = max(hits, key=hits.get)
        return best if hits[best] else OTHER

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(LABELS)))
        for i, text in enumerate(texts):
            out[i, LABELS.index(self.predict_one(text))] = 1.0
        return out


def squash(text: str) -> str:
    """``text`` without whitespace: extractors re-flow lines, so blocks are matched without it."""
    return re.sub(r"\s+", "", text)


def extractor_main_text(name: str, page: str) -> str:
    """The main text a content extractor finds in a decoded HTML page ("" when it finds none)."""
    if name == "trafilatura":
        import trafilatura

        return trafilatura.extract(page, include_comments=False, include_tables=True, favor_recall=False) or ""
    if name == "gne":
        from gne import GeneralNewsExtractor

        try:
            result = GeneralNewsExtractor().extract(page)
        except Exception:  # GNE raises on pages it cannot parse; then it finds nothing
            return ""
        return (result.get("title") or "") + "\n" + (result.get("content") or "")
    raise ValueError(f"unknown extractor {name!r}")


def extractor_kept(name: str, html: bytes, blocks: list[str]) -> list[bool]:
    """Which blocks a main-content extractor keeps: a block counts as content when the
    extractor's main text contains it (whitespace ignored)."""
    from paratheme.pages import decode

    return in_main_text(extractor_main_text(name, decode(html)), blocks)


def in_main_text(main: str, blocks: list[str]) -> list[bool]:
    """Per block: whether ``main`` contains it, whitespace ignored (an empty block never counts)."""
    main = squash(main)
    return [bool(squash(b)) and squash(b) in main for b in blocks]


EXTRACTORS = ("trafilatura", "gne")
