"""Page context: a light second stage that revisits boilerplate-vs-content with the neighbours.

A block alone does not say that it sits in a list of headlines. Given the base model's
probabilities for every block of a page, in order, this stage computes a few features per
block (its own scores, its neighbours' scores, lengths, position) and a logistic regression
re-estimates the probability that the block is boilerplate. The theme distribution among
content labels is the base model's, rescaled, so rare themes are never learned here.

The weights are plain numbers in ``context.json`` in the model folder (no pickle).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CONTEXT_FILE = "context.json"
WINDOW = 3


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


@dataclass(frozen=True)
class ContextModel:
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    boilerplate: str = "boilerplate"

    @classmethod
    def load(cls, folder: Path) -> "ContextModel | None":
        path = Path(folder) / CONTEXT_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(np.array(data["mean"]), np.array(data["scale"]), np.array(data["weights"]), float(data["bias"]),
                   data.get("boilerplate", "boilerplate"))

    def save(self, folder: Path, info: dict | None = None) -> None:
        data = {"mean": self.mean.tolist(), "scale": self.scale.tolist(), "weights": self.weights.tolist(),
                "bias": self.bias, "boilerplate": self.boilerplate, "info": info or {}}
        (Path(folder) / CONTEXT_FILE).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    def apply(self, probs: np.ndarray, lengths: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
        """The page's probabilities with boilerplate re-estimated from context; rows sum to 1."""
        if not len(probs):
            return probs
        b = labels.index(self.boilerplate)
        x = (features(probs, lengths, b) - self.mean) / self.scale
        p_bp = 1 / (1 + np.exp(-(x @ self.weights + self.bias)))
        content = probs.copy()
        content[:, b] = 0
        content /= np.clip(content.sum(axis=1, keepdims=True), 1e-12, None)
        out = content * (1 - p_bp)[:, None]
        out[:, b] = p_bp
        return out.astype(probs.dtype)
