"""Page context: a light second stage that revisits each block's label with its neighbours.

A block alone does not say that it sits in a list of headlines, nor which section of a report it
belongs to. Given the base model's probabilities for every block of a page, in order, this stage
does two things:

1. Boilerplate: a few features per block (its own scores, its neighbours' scores, lengths,
   position) and a logistic regression re-estimate the probability that it is boilerplate.
2. Themes (when fitted): the distribution over content labels mixes the block's own log
   probabilities with its two neighbours' content distributions (each neighbour weighted by how
   much it is content): ``z = own * log p(block) + neighbours * log p(neighbours)``. Two shared
   weights and no per-label ones, so rare labels (reputation has two dev blocks) are never
   re-learned here; a paragraph between two industry paragraphs leans to industry.

The weights are plain numbers in ``context.json`` in the model folder (no pickle).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CONTEXT_FILE = "context.json"
WINDOW = 3
# Pseudo-count per label when pooling the neighbours' content distributions: a page edge or a
# boilerplate neighbour then contributes a nearly flat distribution rather than log(0). On dev
# (5-fold by document) values from 0.001 to 0.2 scored within 0.2 macro-F1 points of each other.
NEIGHBOUR_PRIOR = 0.05


def features(probs: np.ndarray, lengths: np.ndarray, boilerplate_index: int) -> np.ndarray:
    """Per-block features for one page, blocks in page order. Shape ``(n, 10)``."""
    n = len(probs)
    bp = probs[:, boilerplate_index]
    padded = np.concatenate([np.full(WINDOW, np.nan), bp, np.full(WINDOW, np.nan)])
    log_len = np.log1p(lengths.astype(float))
    padded_len = np.concatenate([[0.0], log_len, [0.0]])

    def neighbour(offset):
        values = padded[WINDOW + offset: WINDOW + offset + n]
        return np.where(np.isnan(values), 1.0, values)  # beyond the page edge counts as chrome

    windows = np.stack([padded[WINDOW + k: WINDOW + k + n] for k in range(-WINDOW, WINDOW + 1) if k], axis=1)
    window_mean = np.where(np.isnan(windows), 1.0, windows).mean(axis=1)
    position = np.arange(n) / max(n - 1, 1)
    logit = np.log(np.clip(bp, 1e-6, 1 - 1e-6) / np.clip(1 - bp, 1e-6, 1))
    return np.stack([logit, neighbour(-1), neighbour(1), neighbour(-2), neighbour(2), window_mean,
                     log_len, padded_len[:-2], padded_len[2:], position], axis=1)


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


@dataclass(frozen=True)
class ContextModel:
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    boilerplate: str = "boilerplate"
    theme_weights: tuple[float, float] | None = None  # (own, neighbours); None keeps the base model's themes

    @classmethod
    def load(cls, folder: Path) -> "ContextModel | None":
        path = Path(folder) / CONTEXT_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        theme = data.get("theme_weights")
        return cls(np.array(data["mean"]), np.array(data["scale"]), np.array(data["weights"]), float(data["bias"]),
                   data.get("boilerplate", "boilerplate"), tuple(map(float, theme)) if theme else None)

    def save(self, folder: Path, info: dict | None = None) -> None:
        data = {"mean": self.mean.tolist(), "scale": self.scale.tolist(), "weights": self.weights.tolist(),
                "bias": self.bias, "boilerplate": self.boilerplate,
                "theme_weights": list(self.theme_weights) if self.theme_weights else None, "info": info or {}}
        (Path(folder) / CONTEXT_FILE).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    def apply(self, probs: np.ndarray, lengths: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
        """The page's probabilities revised from context; rows sum to 1."""
        if not len(probs):
            return probs
        b = labels.index(self.boilerplate)
        x = (features(probs, lengths, b) - self.mean) / self.scale
        p_bp = 1 / (1 + np.exp(-(x @ self.weights + self.bias)))
        if self.theme_weights is None:
            content = np.delete(probs, b, axis=1)
            content = content / np.clip(content.sum(axis=1, keepdims=True), 1e-12, None)
        else:
            content = theme_distribution(*theme_features(probs, b), self.theme_weights)
        out = np.insert(content * (1 - p_bp)[:, None], b, p_bp, axis=1)
        return out.astype(probs.dtype)
