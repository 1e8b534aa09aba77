"""The classifier: the one module that runs a model for inference.

The CLI, the server and the endpoint handler only adapt input and output around it.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from .labels import BOILERPLATE, LABELS, THEMES
from .pages import Block, read_page

logger = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "model"


class ModelError(RuntimeError):
    """A model folder that is missing or not a paratheme model."""


@dataclass(frozen=True)
class BlockPrediction:
    position: int
    text: str
    label: str
    score: float
    scores: dict[str, float] = field(repr=False)

    @property
    def theme(self) -> str | None:
        return self.label if self.label in THEMES else None

    @property
    def boilerplate(self) -> bool:
        return self.label == BOILERPLATE

    def to_dict(self) -> dict:
        return {"position": self.position, "text": self.text, "label": self.label,
                "score": round(self.score, 6), "scores": {k: round(v, 6) for k, v in self.scores.items()}}


def default_model_path() -> Path:
    return Path(os.environ.get("PARATHEME_MODEL") or DEFAULT_MODEL)


class Classifier:
    """Labels paragraphs with one of the model's labels.

    Example:
        >>> clf = Classifier.from_pretrained("model")
        >>> clf.predict(["太原市新改扩建公办幼儿园108所。"])
        ['livelihood']
    """

    def __init__(self, model, tokenizer, max_length: int = 512, batch_size: int = 32, max_batch_tokens: int = 8192):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = min(max_length, getattr(model.config, "max_position_embeddings", max_length))
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.load_seconds: float | None = None  # set by from_pretrained
        id2label = model.config.id2label
        self.labels: tuple[str, ...] = tuple(id2label[i] for i in range(len(id2label)))

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None, **kwargs) -> "Classifier":
        """Load a model folder in Hugging Face format (default: the shipped ``model/``)."""
        path = Path(path) if path is not None else default_model_path()
        if not path.is_dir():
            raise ModelError(f"model folder {path} not found")
        if not (path / "config.json").is_file():
            raise ModelError(f"{path} has no config.json: not a Hugging Face model folder")
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        start = time.perf_counter()
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModelForSequenceClassification.from_pretrained(
                path, local_files_only=True, use_safetensors=True, dtype="float32"
            )
        except (OSError, ValueError) as exc:
            raise ModelError(f"could not load the model in {path}: {exc}") from exc
        unknown = set(model.config.id2label.values()) - set(LABELS)
        if unknown:
            raise ModelError(f"{path}: config.json has labels {sorted(unknown)} that are not paratheme labels {list(LABELS)}")
        classifier = cls(model, tokenizer, **kwargs)
        classifier.load_seconds = time.perf_counter() - start
        return classifier

    @property
    def name(self) -> str:
        return getattr(self.model.config, "_name_or_path", "") or "paratheme"

    def predict_proba(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Probabilities of shape ``(len(texts), len(self.labels))``, columns in ``self.labels`` order."""
        import torch

        if isinstance(texts, str):
            raise TypeError("predict_proba takes a list of texts; wrap a single text in a list")
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        if not len(texts):
            return out
        encodings = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]
        # Chrome is short and report paragraphs are long: batching similar lengths together
        # avoids padding every short block to the longest one.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i]))
        with torch.inference_mode():
            for batch in self._batches(order, encodings):
                padded = self.tokenizer.pad({"input_ids": [encodings[i] for i in batch]}, return_tensors="pt")
                logits = self.model(**padded).logits
                out[batch] = torch.softmax(logits.float(), dim=-1).numpy()
                if progress:
                    progress(len(batch))
        return out

    def predict(self, texts: Sequence[str]) -> list[str]:
        """Label names, one per text."""
        return [self.labels[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def classify_blocks(self, blocks: Sequence[Block]) -> list[BlockPrediction]:
        probs = self.predict_proba([b.text for b in blocks])
        return [self.block_prediction(b, row) for b, row in zip(blocks, probs)]

    def classify_page(self, page: bytes | str, kind: str = "auto") -> list[BlockPrediction]:
        """Read a page (text or HTML) and label each of its blocks, in page order."""
        return self.classify_blocks(read_page(page, kind=kind))

    def block_prediction(self, block: Block, row: np.ndarray) -> BlockPrediction:
        best = int(row.argmax())
        return BlockPrediction(block.position, block.text, self.labels[best], float(row[best]),
                               {label: float(p) for label, p in zip(self.labels, row)})

    def _batches(self, order: list[int], encodings) -> Iterable[list[int]]:
        batch: list[int] = []
        for i in order:
            longest = len(encodings[i])  # order is ascending, so the newest is the longest
            if batch and (len(batch) >= self.batch_size or longest * (len(batch) + 1) > self.max_batch_tokens):
                yield batch
                batch = []
            batch.append(i)
        if batch:
            yield batch
