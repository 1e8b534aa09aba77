"""Shared fixtures: the shared corpora (skipped when absent) and a tiny random model.

The tiny model is a 2-layer BERT with random weights and the real Chinese tokenizer
(from the shipped ``model/`` folder), so the machinery is tested fast and for real;
its predictions mean nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHIPPED_MODEL = REPO / "model"
CORPORA = Path(os.environ.get("PARATHEME_CORPORA") or REPO.parent / "shared" / "corpora")
EXAMPLE_PAGE = REPO / "examples" / "portal-page.html"

needs_corpora = pytest.mark.skipif(not CORPORA.is_dir(), reason=f"shared corpora not found at {CORPORA}")
needs_shipped_model = pytest.mark.skipif(
    not (SHIPPED_MODEL / "config.json").is_file(), reason="the shipped model/ folder is absent"
)


@pytest.fixture(scope="session")
def corpora() -> Path:
    if not CORPORA.is_dir():
        pytest.skip(f"shared corpora not found at {CORPORA}")
    return CORPORA


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A Hugging Face folder with a tiny random BERT classifier over the seven labels."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from paratheme.labels import id2label, label2id

    if not (SHIPPED_MODEL / "tokenizer.json").is_file():
        pytest.skip("no Chinese tokenizer: the shipped model/ folder is absent")
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(SHIPPED_MODEL, local_files_only=True)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, id2label=id2label(), label2id=label2id())
    folder = tmp_path_factory.mktemp("tiny-model")
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
