"""Predict with a LightGBM model saved in its text format, in NumPy alone.

The page labeler's trees are trained with LightGBM and stored in LightGBM's own text format (no
pickle). Importing LightGBM to apply them costs about two seconds at start-up (it imports
scikit-learn and SciPy when they are installed), longer than labeling a page; every CLI run, server
start and Ray actor paid it. Applying 300 trees to a few hundred blocks needs only comparisons, so
this module reads the text format and evaluates the trees itself. It covers what
``training/train_page_model.py`` writes: a binary objective and numerical splits, with any of
LightGBM's three missing-value rules. Anything else is refused with a clear error rather than
predicted wrongly; ``tests/test_trees.py`` checks the predictions against LightGBM's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# decision_type bits (LightGBM's tree.h): 1 categorical, 2 default left, (x >> 2) & 3 missing type.
_CATEGORICAL, _DEFAULT_LEFT = 1, 2
_MISSING_ZERO, _MISSING_NAN = 1, 2
_ZERO = 1e-35  # LightGBM's kZeroThreshold


class TreeFormatError(ValueError):
    """A model text this reader does not cover (or not a LightGBM model at all)."""


@dataclass(frozen=True)
class Trees:
    """A LightGBM binary classifier: all trees' nodes in flat arrays.

    Internal nodes are numbered across all trees; a child ``c >= 0`` is an internal node, and
    ``c < 0`` is the leaf ``-c - 1`` of the flat leaf array.
    """

    text: str  # the model as LightGBM wrote it (saved back unchanged)
    feature_names: tuple[str, ...]
    roots: np.ndarray  # per tree: its root node, or a leaf code for a one-leaf tree
    feature: np.ndarray
    threshold: np.ndarray
    default_left: np.ndarray
    missing: np.ndarray  # 0 none (NaN is read as 0), 1 zero, 2 NaN
    children: np.ndarray  # (2, nodes): row 0 where x > threshold, row 1 where x <= threshold
    leaf_value: np.ndarray
    sigmoid: float

    @classmethod
    def from_text(cls, text: str) -> "Trees":
        header, trees = _sections(text)
        if header.get("version") != "v4":
            raise TreeFormatError(f"LightGBM model version {header.get('version')!r}; this reader knows v4")
        objective = header.get("objective", "").split()
        if not objective or objective[0] != "binary" or header.get("num_tree_per_iteration") != "1":
            raise TreeFormatError(f"objective {header.get('objective')!r}: only binary models are read")
        if "average_output" in header:
            raise TreeFormatError("random-forest models (average_output) are not read")
        sigmoid = float(next((part.split(":")[1] for part in objective[1:] if part.startswith("sigmoid:")), 1.0))
        names = tuple(header.get("feature_names", "").split())
        columns: dict[str, list] = {k: [] for k in ("feature", "threshold", "decision", "left", "right", "leaf")}
        roots = []
        for tree in trees:
            if tree.get("is_linear", "0") != "0":
                raise TreeFormatError("linear trees are not read")
            nodes, leaves = len(columns["feature"]), len(columns["leaf"])
            leaf_values = _floats(tree["leaf_value"])
            columns["leaf"].extend(leaf_values)
            if int(tree["num_leaves"]) == 1:
                roots.append(-leaves - 1)
                continue
            decision = [int(d) for d in tree["decision_type"].split()]
            if any(d & _CATEGORICAL for d in decision):
                raise TreeFormatError("categorical splits are not read")
            roots.append(nodes)
            for key in ("left", "right"):  # to flat numbering: internal + nodes, leaf ~c + leaves
                columns[key].extend(c + nodes if c >= 0 else c - leaves for c in map(int, tree[f"{key}_child"].split()))
            columns["feature"].extend(int(f) for f in tree["split_feature"].split())
            columns["threshold"].extend(_floats(tree["threshold"], infinite_ok=True))
            columns["decision"].extend(decision)
        if not roots:
            raise TreeFormatError("the model has no trees")
        decision = np.array(columns["decision"], dtype=np.int64)
        return cls(text, names, np.array(roots, dtype=np.intp), np.array(columns["feature"], dtype=np.intp),
                   np.array(columns["threshold"], dtype=np.float64), (decision & _DEFAULT_LEFT) > 0,
                   (decision >> 2) & 3, np.array([columns["right"], columns["left"]], dtype=np.intp).reshape(2, -1),
                   np.array(columns["leaf"], dtype=np.float64), sigmoid)

    def raw_score(self, x: np.ndarray) -> np.ndarray:
        """The sum of the trees' leaf values per row of ``x`` (rows, features)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            raise ValueError(f"expected rows of {len(self.feature_names)} features, got shape {x.shape}")
        # Every (row, tree) pair walks down at once, one level per step; ``take`` is NumPy's
        # fastest gather, and the pairs that reached a leaf drop out of ``active``.
        count, width = x.shape
        missing_rules = bool(self.missing.any())
        if not missing_rules:  # the common case: NaN reads as 0, and x <= threshold decides
            x = np.nan_to_num(x, nan=0.0, posinf=np.inf, neginf=-np.inf)
        flat_x = x.ravel()
        node = np.tile(self.roots, count)
        base = np.repeat(np.arange(count, dtype=np.intp) * width, len(self.roots))
        active = np.flatnonzero(node >= 0)
        while active.size:
            at = node.take(active)
            value = flat_x.take(base.take(active) + self.feature.take(at))
            go_left = self._go_left_with_missing(value, at) if missing_rules else value <= self.threshold.take(at)
            following = np.where(go_left, self.children[1].take(at), self.children[0].take(at))
            node[active] = following
            active = active[following >= 0]
        return self.leaf_value.take(-node - 1).reshape(count, len(self.roots)).sum(axis=1)

    def _go_left_with_missing(self, value: np.ndarray, at: np.ndarray) -> np.ndarray:
        missing_type = self.missing[at]
        nan = np.isnan(value)
        value = np.where(nan & (missing_type != _MISSING_NAN), 0.0, value)
        is_missing = ((missing_type == _MISSING_ZERO) & (np.abs(value) <= _ZERO)) | ((missing_type == _MISSING_NAN) & nan)
        return np.where(is_missing, self.default_left[at], value <= self.threshold[at])

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The probability of the positive class per row of ``x``, as LightGBM's ``Booster.predict``."""
        return 1.0 / (1.0 + np.exp(-self.sigmoid * self.raw_score(x)))


def _sections(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The header's ``key=value`` lines and each ``Tree=`` block's, up to ``end of trees``."""
    if not text.startswith("tree\n"):
        raise TreeFormatError("not a LightGBM text model (it does not start with 'tree')")
    header: dict[str, str] = {}
    trees: list[dict[str, str]] = []
    current = header
    for line in text.splitlines()[1:]:
        if line == "end of trees":
            break
        if line.startswith("Tree="):
            current = {}
            trees.append(current)
        elif "=" in line:
            key, value = line.split("=", 1)
            current[key] = value
    return header, trees


def _floats(values: str, infinite_ok: bool = False) -> list[float]:
    """Numbers of a tree line; thresholds may be infinite (LightGBM writes ``inf``), nothing NaN."""
    numbers = [float(v) for v in values.split()]
    if not all(math.isfinite(v) or (infinite_ok and not math.isnan(v)) for v in numbers):
        raise TreeFormatError(f"a tree holds a value that is not a number: {values[:80]!r}")
    return numbers
