"""The page labeler: a second stage that labels every block of a page from the whole page.

The base model reads one block at a time: it cannot see that a line sits in a list of
headlines, in the footer, or between two body paragraphs. This stage sees the page. Per block it
takes the base model's seven probabilities and the block's structure record (``pages.Structure``:
tag path, class/id words, link share, list/table/heading flags, how many blocks share its path),
plus text facts (length, punctuation) and the same quantities averaged over windows of
neighbours. From these:

1. Boilerplate: on HTML pages, gradient-boosted trees (LightGBM) give the probability that the
   block is chrome. Text pages (one block per line) have no structure record: their boilerplate
   probability stays the base model's.
2. Themes: the distribution over the content labels mixes the block's own log probabilities with
   its two neighbours' content distributions (each neighbour weighted by how much it is content):
   ``z = own * log p(block) + neighbours * log p(neighbours)``. Two shared weights, no per-label
   ones, so rare labels are never re-learned here.

The trees are stored in LightGBM's text format (applied by ``trees.py``, without LightGBM) and the
rest as JSON (no pickle):
``page_model.txt`` and ``page_model.json`` in the model folder.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .pages import Block
from .trees import Trees

MODEL_FILE = "page_model.txt"
META_FILE = "page_model.json"

# Class/id words that say what part of a page an element is. Matched as substrings of the words,
# so "newscontent" counts as content and "footer" as foot.
CONTENT_WORDS = ("article", "content", "text", "body", "main", "detail", "post", "story", "entry", "para", "cont")
CHROME_WORDS = ("nav", "menu", "foot", "header", "side", "related", "recommend", "hot", "share", "comment", "copy",
                "crumb", "banner", "login", "search", "rank", "more", "tag", "list", "link", "bottom", "top", "ad")
_PUNCTUATION = re.compile(r"[，。！？；：、,.!?;:]")
_SENTENCE_END = re.compile(r"[。！？!?…）)”\"]$")
_DIGITS = re.compile(r"\d")
_LATIN = re.compile(r"[A-Za-z]")
_DATE = re.compile(r"\d{4}\s*[-年/.]\s*\d{1,2}|\d{1,2}:\d{2}")
TAGS = ("title", "p", "div", "li", "td", "h1", "h2", "h3", "span", "dd", "a", "font", "center", "section")
WINDOWS = (1, 2, 5)
# Pseudo-count per label when pooling the neighbours' content distributions: a page edge or a
# boilerplate neighbour then contributes a nearly flat distribution rather than log(0).
NEIGHBOUR_PRIOR = 0.05


def _window_mean(values: np.ndarray, radius: int) -> np.ndarray:
    """Mean of each block's neighbours within ``radius`` (itself excluded); NaN where it has none.
    NaN values (a text page's missing structure) are skipped."""
    n = len(values)
    padded = np.concatenate([np.full(radius, np.nan), values, np.full(radius, np.nan)])
    stacked = np.stack([padded[radius + k: radius + k + n] for k in range(-radius, radius + 1) if k], axis=1)
    counts = (~np.isnan(stacked)).sum(axis=1)
    sums = np.nansum(stacked, axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a.split("/"), b.split("/")):
        if x != y:
            break
        n += 1
    return n


def page_features(blocks: Sequence[Block], probs: np.ndarray, labels: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Features of one page's blocks, in page order: shape ``(len(blocks), n_features)`` and names."""
    n = len(blocks)
    texts = [b.text for b in blocks]
    lengths = np.array([len(t) for t in texts], dtype=float)
    b = list(labels).index("boilerplate")
    columns: dict[str, np.ndarray] = {}
    for j, label in enumerate(labels):
        columns[f"p_{label}"] = probs[:, j].astype(float)
    content = 1 - probs[:, b]
    columns["p_theme_max"] = np.delete(probs, [b, list(labels).index("other")], axis=1).max(axis=1)
    columns["log_length"] = np.log1p(lengths)
    columns["punctuation"] = np.array([len(_PUNCTUATION.findall(t)) for t in texts]) / np.maximum(lengths, 1)
    columns["digits"] = np.array([len(_DIGITS.findall(t)) for t in texts]) / np.maximum(lengths, 1)
    columns["latin"] = np.array([len(_LATIN.findall(t)) for t in texts]) / np.maximum(lengths, 1)
    columns["sentence_end"] = np.array([bool(_SENTENCE_END.search(t)) for t in texts], dtype=float)
    columns["date"] = np.array([bool(_DATE.search(t)) for t in texts], dtype=float)
    repeats: dict[str, int] = {}
    for t in texts:
        repeats[t] = repeats.get(t, 0) + 1
    columns["repeated"] = np.array([repeats[t] > 1 for t in texts], dtype=float)
    columns["position"] = np.arange(n) / max(n - 1, 1)
    columns["log_blocks"] = np.full(n, np.log1p(n))
    cumulative = np.cumsum(lengths) - lengths
    columns["char_position"] = cumulative / max(lengths.sum(), 1)
    longest = int(lengths.argmax()) if n else 0
    columns["from_longest"] = (np.arange(n) - longest) / max(n, 1)
    columns["share_of_page"] = lengths / max(lengths.sum(), 1)
    # Facts of the whole page, the same on every block: a listing page has no long, punctuated
    # paragraph anywhere, and most of its characters sit in links.
    ends = columns["sentence_end"]
    columns["page_longest"] = np.full(n, np.log1p(lengths.max()) if n else 0.0)
    columns["page_long_blocks"] = np.full(n, np.log1p((lengths >= 80).sum()))
    columns["page_sentence_chars"] = np.full(n, (lengths * ends).sum() / max(lengths.sum(), 1))
    columns["length_rank"] = (np.argsort(np.argsort(lengths)) / max(n - 1, 1)) if n else lengths

    structured = [blk.structure for blk in blocks]
    is_html = structured[0] is not None if n else False
    columns["html"] = np.full(n, float(is_html))
    if is_html:
        s = structured
        link = np.array([x.link_chars for x in s]) / np.maximum(lengths, 1)
        columns["link_share"] = link
        columns["page_link_share"] = np.full(n, sum(x.link_chars for x in s) / max(lengths.sum(), 1))
        columns["depth"] = np.array([x.depth for x in s], dtype=float)
        for name in ("in_list", "in_heading", "in_table", "in_caption", "in_form", "in_head"):
            columns[name] = np.array([getattr(x, name) for x in s], dtype=float)
        for tag in TAGS:
            columns[f"tag_{tag}"] = np.array([x.tag == tag for x in s], dtype=float)
        columns["log_same_path"] = np.log1p([x.same_path for x in s])
        columns["same_path_share"] = np.array([x.same_path_chars for x in s]) / max(lengths.sum(), 1)
        columns["same_path_mean_chars"] = np.log1p(np.array([x.same_path_chars / x.same_path for x in s]))
        longest_path = s[longest].path
        columns["path_prefix_with_longest"] = np.array(
            [_common_prefix(x.path, longest_path) / max(len(x.path.split("/")), 1) for x in s])
        columns["same_path_as_longest"] = np.array([x.path == longest_path for x in s], dtype=float)
        path_chars = {x.path: x.same_path_chars for x in s}
        densest = max(path_chars, key=path_chars.get)
        columns["same_path_as_densest"] = np.array([x.path == densest for x in s], dtype=float)
        for where, parts in (("near", lambda a: a.split("/")[-2:]), ("any", lambda a: a.split("/"))):
            words = [" ".join(parts(x.attrs)) for x in s]
            columns[f"{where}_content_words"] = np.array([sum(w in ws for w in CONTENT_WORDS) for ws in words], dtype=float)
            columns[f"{where}_chrome_words"] = np.array([sum(w in ws for w in CHROME_WORDS) for ws in words], dtype=float)
    else:
        for name in STRUCTURE_FEATURES:
            columns[name] = np.full(n, np.nan)

    for name, values in (("content", content), ("link_share", columns["link_share"]),
                         ("punctuation", columns["punctuation"]), ("log_length", columns["log_length"]),
                         ("in_list", columns["in_list"])):
        for radius in WINDOWS:
            columns[f"{name}_mean_{radius}"] = _window_mean(values, radius)
    columns["content_prev"] = np.concatenate([[np.nan], content[:-1]])[:n]
    columns["content_next"] = np.concatenate([content[1:], [np.nan]])[:n]
    names = feature_names(labels)
    return np.stack([columns[name] for name in names], axis=1).astype(np.float32), names


STRUCTURE_FEATURES = (
    ["link_share", "page_link_share", "depth", "in_list", "in_heading", "in_table", "in_caption", "in_form", "in_head"]
    + [f"tag_{t}" for t in TAGS]
    + ["log_same_path", "same_path_share", "same_path_mean_chars", "path_prefix_with_longest", "same_path_as_longest",
       "same_path_as_densest", "near_content_words", "near_chrome_words", "any_content_words", "any_chrome_words"]
)


def feature_names(labels: Sequence[str]) -> list[str]:
    names = [f"p_{label}" for label in labels] + [
        "p_theme_max", "log_length", "punctuation", "digits", "latin", "sentence_end", "date", "repeated", "position",
        "log_blocks", "char_position", "from_longest", "share_of_page", "page_longest", "page_long_blocks",
        "page_sentence_chars", "length_rank", "html"]
    names += STRUCTURE_FEATURES
    names += [f"{name}_mean_{r}" for name in ("content", "link_share", "punctuation", "log_length", "in_list")
              for r in WINDOWS]
    return names + ["content_prev", "content_next"]


def is_html(blocks: Sequence[Block]) -> bool:
    """Whether the page was read as HTML (its blocks carry structure records)."""
    return bool(blocks) and blocks[0].structure is not None


def theme_features(probs: np.ndarray, boilerplate_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Log content distributions of each block and of its two neighbours pooled, for one page in
    order; both of shape ``(n, labels - 1)``, columns the content labels in model order."""
    content = np.delete(probs, boilerplate_index, axis=1)
    content = content / np.clip(content.sum(axis=1, keepdims=True), 1e-12, None)
    weight = 1 - probs[:, boilerplate_index]
    weighted = content * weight[:, None]
    pooled = np.zeros_like(content)
    total = np.zeros(len(probs))
    pooled[1:] += weighted[:-1]
    total[1:] += weight[:-1]
    pooled[:-1] += weighted[1:]
    total[:-1] += weight[1:]
    k = content.shape[1]
    neighbours = (pooled + NEIGHBOUR_PRIOR) / (total[:, None] + k * NEIGHBOUR_PRIOR)
    return np.log(np.clip(content, 1e-6, 1)), np.log(neighbours)


def theme_distribution(own: np.ndarray, neighbours: np.ndarray, weights) -> np.ndarray:
    """Content-label distribution from ``theme_features`` and the two weights (own, neighbours)."""
    z = weights[0] * own + weights[1] * neighbours
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def revised(probs: np.ndarray, p_bp: np.ndarray, theme_weights, boilerplate_index: int) -> np.ndarray:
    """A page's probabilities from the base model's (``probs``), the page stage's boilerplate
    probability per block and the two theme weights; rows sum to 1."""
    content = theme_distribution(*theme_features(probs, boilerplate_index), theme_weights)
    return np.insert(content * (1 - p_bp)[:, None], boilerplate_index, p_bp, axis=1)


@dataclass
class PageModel:
    """The fitted page labeler: LightGBM trees for boilerplate, two weights for themes."""

    trees: Trees  # LightGBM's trees, applied without LightGBM (``trees.py``)
    theme_weights: tuple[float, float] = (1.0, 0.0)
    info: dict = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        """The features the trees use, a subset of ``feature_names(labels)``, in their order."""
        return list(self.trees.feature_names)

    @classmethod
    def load(cls, folder: str | Path) -> "PageModel | None":
        folder = Path(folder)
        if not (folder / META_FILE).is_file():
            return None
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        trees = Trees.from_text((folder / MODEL_FILE).read_text(encoding="utf-8"))
        # The JSON repeats the trees' feature names for readers of the file; they must agree.
        if list(trees.feature_names) != meta["feature_names"]:
            raise ValueError(f"{folder}: {MODEL_FILE} and {META_FILE} name different features; refit the page model")
        return cls(trees, tuple(meta["theme_weights"]), meta.get("info", {}))

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        (folder / MODEL_FILE).write_text(self.trees.text, encoding="utf-8")
        meta = {"feature_names": self.feature_names, "theme_weights": list(self.theme_weights), "info": self.info}
        (folder / META_FILE).write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    def features(self, blocks: Sequence[Block], probs: np.ndarray, labels: Sequence[str]) -> np.ndarray:
        """The columns of ``page_features`` that the trees use, in their order."""
        features, names = page_features(blocks, probs, labels)
        missing = set(self.feature_names) - set(names)
        if missing:
            raise ValueError(f"the page model uses features this code does not compute ({sorted(missing)[:3]}); refit it")
        return features[:, [names.index(name) for name in self.feature_names]]

    def boilerplate_probability(self, features: np.ndarray) -> np.ndarray:
        return self.trees.predict(features)

    def apply(self, blocks: Sequence[Block], probs: np.ndarray, labels: Sequence[str]) -> np.ndarray:
        """The page's probabilities (columns in ``labels`` order) revised from the whole page; rows sum to 1."""
        if not len(probs):
            return probs
        b = list(labels).index("boilerplate")
        p_bp = self.boilerplate_probability(self.features(blocks, probs, labels)) if is_html(blocks) else probs[:, b]
        return revised(probs, p_bp, self.theme_weights, b).astype(probs.dtype)
