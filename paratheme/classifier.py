"""The classifier: the one module that runs a model for inference.

The CLI, the server and the endpoint handler only adapt input and output around it. Two
backends compute the logits: PyTorch (the model's safetensors) and ONNX Runtime (the int8
``onnx/model_quantized.onnx`` shipped in ``model/``, written by ``paratheme export-onnx``, and an
optional fp32 ``onnx/model.onnx``). ``backend="auto"`` takes the fastest one present: ONNX int8,
then ONNX fp32, then PyTorch.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from .labels import BOILERPLATE, LABELS, THEMES
from .page_model import PageModel
from .pages import Block, Structure, check_text, read_page

logger = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "model"
# Optimum's and transformers.js's names; the int8 file ships with the model, fp32 is optional.
ONNX_FILES = {"onnx-int8": "onnx/model_quantized.onnx", "onnx-fp32": "onnx/model.onnx"}
BACKENDS = ("auto", "pytorch", *ONNX_FILES)
THREADS_ENV = "PARATHEME_THREADS"


DEFAULT_MAX_LENGTH = 192
# A word cut at the edge of a character window tokenises differently from the whole word; a
# word gives at most 100 wordpieces (longer words are one [UNK]), so a window must yield this many
# tokens beyond those kept.
_SPARE_TOKENS = 101


class ModelError(RuntimeError):
    """A model folder that is missing or not a paratheme model."""


@dataclass(frozen=True)
class BlockPrediction:
    position: int
    text: str
    label: str
    score: float
    scores: dict[str, float] = field(repr=False)
    structure: Structure | None = field(default=None, repr=False)  # HTML blocks: where the block sits

    @property
    def theme(self) -> str | None:
        return self.label if self.label in THEMES else None

    @property
    def boilerplate(self) -> bool:
        return self.label == BOILERPLATE

    def to_dict(self, structure: bool = False) -> dict:
        """The prediction as JSON-ready data; ``structure=True`` adds the block's structure record
        (``null`` for a text page's lines), so that users can see why a block was cut."""
        out = {"position": self.position, "text": self.text, "label": self.label,
               "score": round(self.score, 6), "scores": {k: round(v, 6) for k, v in self.scores.items()}}
        if structure:
            out["structure"] = self.structure.to_dict() if self.structure else None
        return out


def default_model_path() -> Path:
    return Path(os.environ.get("PARATHEME_MODEL") or DEFAULT_MODEL)


def default_threads() -> int:
    """Intra-op threads: ``$PARATHEME_THREADS``, else every core. Several server workers on one
    machine should split the cores between them through that variable."""
    return int(os.environ.get(THREADS_ENV) or os.cpu_count() or 1)


class TorchBackend:
    name = "pytorch"

    def __init__(self, folder: Path, threads: int, device: str = "cpu"):
        import torch
        from transformers import AutoModelForSequenceClassification

        torch.set_num_threads(threads)
        self.device = torch.device(device)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            folder, local_files_only=True, use_safetensors=True, dtype=torch.float32).to(self.device).eval()

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = self.model(input_ids=torch.from_numpy(input_ids).to(self.device),
                             attention_mask=torch.from_numpy(attention_mask).to(self.device))
        return out.logits.float().cpu().numpy()


class OnnxBackend:
    def __init__(self, path: Path, threads: int, name: str):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.name = name

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        return self.session.run(None, feed)[0]


def _choose_backend(folder: Path, backend: str, device: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if device != "cpu":
        # The ONNX files are built and quantised for CPUs; a GPU runs the PyTorch model.
        if backend not in ("auto", "pytorch"):
            raise ValueError(f"backend {backend} runs on the CPU only; device {device!r} needs the pytorch backend")
        return "pytorch"
    if backend != "auto":
        return backend
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "pytorch"
    return next((name for name, file in ONNX_FILES.items() if (folder / file).is_file()), "pytorch")


def load_tokenizer(folder: Path):
    """The model's fast tokenizer (``tokenizer.json``), read by the ``tokenizers`` library itself.

    It gives the ids ``AutoTokenizer`` gives (``tests/test_classifier.py`` checks this on every
    corpus block), without importing transformers and, through it, PyTorch: that import took
    about four of the six seconds a CLI run spent loading the ONNX model.
    """
    from tokenizers import Tokenizer

    path = folder / "tokenizer.json"
    if not path.is_file():
        raise OSError(f"{folder} has no tokenizer.json (a fast tokenizer, as save_pretrained writes it)")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()  # encode() cuts long texts itself, keeping head and tail
    return tokenizer


def as_blocks(blocks: Sequence[Block | str]) -> list[Block]:
    """Blocks in page order; a plain string is a block without a structure record."""
    return [b if isinstance(b, Block) else Block(i, b) for i, b in enumerate(blocks)]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


class Classifier:
    """Labels paragraphs with one of the model's labels.

    Args:
        backend: computes logits from token ids (``TorchBackend`` or ``OnnxBackend``).
        tokenizer: the model's ``tokenizers.Tokenizer`` (a transformers fast tokenizer's
            ``backend_tokenizer``); its padding setting, if any, names the pad token.
        labels: label names in the model's output order (its ``id2label``).
        max_length: tokens the model sees per block; longer blocks keep their head and tail. The
            default, 192, was the best window on dev (``python -m bench.truncation``: every window
            from 128 to 512 tokens scored within 0.7 macro-F1 points) and reads a page with a
            quarter fewer tokens than 512.
        batch_size, max_batch_tokens: a batch holds at most this many blocks and padded tokens (a
            block longer than the budget goes alone). Small batches ran fastest on 2 CPU cores: the
            seed page took 2.4 times less time with a 512-token budget than with 8,192 (ONNX int8).

    Example:
        >>> clf = Classifier.from_pretrained("model")
        >>> clf.predict(["今年城区新建普惠性幼儿园十二所，新增学位三千六百个。"])
        ['livelihood']
    """

    def __init__(self, backend, tokenizer, labels: Sequence[str], max_length: int = DEFAULT_MAX_LENGTH, batch_size: int = 32,
                 max_batch_tokens: int = 512, head_fraction: float = 0.75):
        self.backend = backend
        self.tokenizer = tokenizer
        self.labels: tuple[str, ...] = tuple(labels)
        self.max_length = max_length
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.head_fraction = head_fraction
        self.name = "paratheme"
        self.page_model: PageModel | None = None  # the page labeler, when the model folder has one
        self.load_seconds: float | None = None  # set by from_pretrained

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None, backend: str = "auto",
                        threads: int | None = None, device: str = "cpu", **kwargs) -> "Classifier":
        """Load a model folder in Hugging Face format (default: the shipped ``model/``).

        Args:
            backend: ``auto`` (fastest present), ``pytorch``, ``onnx-int8`` or ``onnx-fp32``.
            threads: intra-op threads (default: ``$PARATHEME_THREADS`` or every core).
            device: ``cpu``, or a PyTorch device such as ``cuda`` (PyTorch backend only).
        """
        start = time.perf_counter()
        folder = Path(path) if path is not None else default_model_path()
        if not folder.is_dir():
            raise ModelError(f"model folder {folder} not found")
        if not (folder / "config.json").is_file():
            raise ModelError(f"{folder} has no config.json: not a Hugging Face model folder")
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            id2label = {int(k): v for k, v in config["id2label"].items()}
        except (ValueError, KeyError) as exc:
            raise ModelError(f"{folder}/config.json is not a classifier config with id2label: {exc}") from exc
        labels = [id2label[i] for i in range(len(id2label))]
        unknown = set(labels) - set(LABELS)
        if unknown:
            raise ModelError(f"{folder}: config.json has labels {sorted(unknown)} that are not paratheme labels {list(LABELS)}")
        choice = _choose_backend(folder, backend, device)
        threads = threads or default_threads()
        try:
            tokenizer = load_tokenizer(folder)
            engine = (TorchBackend(folder, threads, device) if choice == "pytorch"
                      else OnnxBackend(folder / ONNX_FILES[choice], threads, choice))
        except (OSError, ValueError) as exc:
            raise ModelError(f"could not load the model in {folder} ({choice}): {exc}") from exc
        max_length = min(kwargs.pop("max_length", DEFAULT_MAX_LENGTH), config.get("max_position_embeddings", 512))
        classifier = cls(engine, tokenizer, labels, max_length=max_length, **kwargs)
        classifier.name = folder.resolve().name
        try:
            classifier.page_model = PageModel.load(folder)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"could not load the page labeler in {folder}: {exc}") from exc
        classifier.load_seconds = time.perf_counter() - start
        logger.info("loaded %s with the %s backend in %.2f s", folder, choice, classifier.load_seconds)
        return classifier

    @property
    def backend_name(self) -> str:
        return self.backend.name

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text. A text longer than ``max_length`` keeps its head and its tail,
        so that a long report paragraph is judged on its lead sentence and its conclusion.

        A long text is tokenised from a window of characters at each end (4 per kept token at
        first, more if the window gives too few tokens), never whole: the ids are the same as
        from the whole text, and a 6 M-character text takes no more memory than a paragraph."""
        # The tail keeps at least the closing [SEP]: head_fraction 1.0 is plain truncation.
        tail = max(1, self.max_length - int(self.max_length * self.head_fraction))
        head = self.max_length - tail
        window = 4 * self.max_length
        short = [i for i, text in enumerate(texts) if len(text) <= 2 * window]
        encoded: list[list[int]] = [[] for _ in texts]
        for i, ids in zip(short, self._tokenize([texts[i] for i in short])):
            encoded[i] = ids if len(ids) <= self.max_length else ids[:head] + ids[-tail:]
        for i in sorted(set(range(len(texts))) - set(short)):
            encoded[i] = self._encode_ends(texts[i], head, tail, window)
        return encoded

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        return [encoding.ids for encoding in self.tokenizer.encode_batch(texts, add_special_tokens=True)] if texts else []

    def _encode_ends(self, text: str, head: int, tail: int, window: int) -> list[int]:
        """The first ``head`` and last ``tail`` ids of ``text``'s encoding, tokenising only its ends."""
        while 2 * window < len(text):
            first, last = self._tokenize([text[:window], text[-window:]])
            # Each window's ids are [CLS] ... [SEP]; the kept ones must lie clear of the cut word.
            if len(first) - 2 >= head - 1 + _SPARE_TOKENS and len(last) - 2 >= tail - 1 + _SPARE_TOKENS:
                return first[:head] + last[-tail:]
            window *= 4
        ids = self._tokenize([text])[0]
        return ids if len(ids) <= self.max_length else ids[:head] + ids[-tail:]

    def predict_proba(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Probabilities of shape ``(len(texts), len(self.labels))``, columns in ``self.labels`` order.
        ``progress``, if given, is called with the number of texts each model call settled."""
        if isinstance(texts, str):
            raise TypeError("predict_proba takes a list of texts; wrap a single text in a list")
        for i, text in enumerate(texts):
            check_text(text, f"text {i}")
        # Pages repeat their chrome (a sixth of the test split's blocks repeat within their page):
        # each distinct text runs once.
        copies = Counter(texts)
        unique = list(copies)
        encodings = self.encode(unique) if unique else []
        probs = np.zeros((len(unique), len(self.labels)), dtype=np.float32)
        # Chrome is short and report paragraphs are long: batching similar lengths together
        # avoids padding every short block to the longest one.
        order = sorted(range(len(unique)), key=lambda i: len(encodings[i]))
        pad = self.tokenizer.token_to_id(self.tokenizer.padding["pad_token"]) if self.tokenizer.padding else 0
        for batch in self._batches(order, encodings):
            width = len(encodings[batch[-1]])
            input_ids = np.full((len(batch), width), pad, dtype=np.int64)
            attention = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                input_ids[row, :len(encodings[i])] = encodings[i]
                attention[row, :len(encodings[i])] = 1
            probs[batch] = _softmax(self.backend.logits(input_ids, attention).astype(np.float64))
            if progress:
                progress(sum(copies[unique[i]] for i in batch))
        row_of = {text: i for i, text in enumerate(unique)}
        return probs[[row_of[t] for t in texts]].reshape(len(texts), len(self.labels))

    def predict_page_proba(self, blocks: Sequence[Block | str]) -> np.ndarray:
        """Like ``predict_proba`` for the blocks of one page in page order: with the model's page
        labeler, the whole page (neighbours, and the structure record of HTML blocks) informs each
        block's label. Plain strings are blocks without structure (lines of a text page)."""
        blocks = as_blocks(blocks)
        return self.with_page_context(blocks, self.predict_proba([b.text for b in blocks]))

    def with_page_context(self, blocks: Sequence[Block | str], probs: np.ndarray) -> np.ndarray:
        """``probs`` of one page's blocks (in page order), revised by the page labeler if any."""
        if self.page_model is None:
            return probs
        return self.page_model.apply(as_blocks(blocks), probs, self.labels)

    def predict(self, texts: Sequence[str]) -> list[str]:
        """Label names, one per text."""
        return [self.labels[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def classify_blocks(self, blocks: Sequence[Block]) -> list[BlockPrediction]:
        """Label the blocks of one page, given in page order."""
        probs = self.predict_page_proba(blocks)
        return [self.block_prediction(b, row) for b, row in zip(blocks, probs)]

    def classify_page(self, page: bytes | str, kind: str = "auto") -> list[BlockPrediction]:
        """Read a page (text or HTML) and label each of its blocks, in page order."""
        return self.classify_blocks(read_page(page, kind=kind))

    def block_prediction(self, block: Block, row: np.ndarray) -> BlockPrediction:
        best = int(row.argmax())
        return BlockPrediction(block.position, block.text, self.labels[best], float(row[best]),
                               {label: float(p) for label, p in zip(self.labels, row)}, block.structure)

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
