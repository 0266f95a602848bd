"""Leeds Sports Pose (LSP) and LSP Extended annotations, person boxes, torso sizes and the split.

``joints.mat`` holds one matrix ``joints`` in one of two layouts:

* **LSP Extended** (``14×3×N``, 10,000 people): rows x, y and a *visibility* flag, 1 = visible
  (``lspet/README.txt``). Joints flagged 0 carry no position (their coordinates are
  non-positive garbage such as (0, -26)), so there ``annotated == visible``: LSP Extended
  annotates visible joints only.
* **original LSP** (``3×14×N``, 2,000 people): every joint is annotated; the third row is read
  as an *occlusion* flag (1 = occluded, so ``visible = 1 − flag``), the common reading of that
  file although its README calls it "a binary value specifying joint visibility". The original
  LSP is not in the shared data, so this reading is not checked here; ``third_row="visible"``
  overrides it.

A ``N×14×3`` matrix (already person-major) is accepted too, read like LSP Extended. Coordinates
are MATLAB-style 1-based; we subtract 1 as for MPII.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lib.errors import DataFileError, describe
from lib.joints import LSP_JOINTS, NUM_LSP_JOINTS
from lib.data.formats import load_mat

_R_SHO, _L_SHO = LSP_JOINTS.index("r_shoulder"), LSP_JOINTS.index("l_shoulder")
_R_HIP, _L_HIP = LSP_JOINTS.index("r_hip"), LSP_JOINTS.index("l_hip")

#: Person box side = BOX_FACTOR × the larger side of the annotated joints' bounding box. With
#: the head top and ankles at the box's extremes this is MPII's ×1.25 person box (Sec. 4.1 of
#: PBN crops both datasets the same way).
BOX_FACTOR = 1.25

#: LSP Extended's fixed test split: the last 1,000 images (im09001 ... im10000).
LSPET_TEST_SIZE = 1000

#: What to do about a damaged or foreign ``joints.mat``.
MAT_FIX = "use joints.mat as distributed with LSP / LSP Extended (download or copy it again)"


@dataclass
class LspAnnotations:
    """LSP people as read from ``joints.mat`` (one person per image).

    Attributes:
        joints: ``N×14×2`` float32, 0-based image pixels, (0, 0) where not annotated.
        visible: ``N×14`` bool (see the module docstring for each layout's flag).
        annotated: ``N×14`` bool.
        images: image file names, ``im%05d.jpg`` (LSP Extended) or ``im%04d.jpg`` (LSP).
        source: the file read, for provenance.
    """

    joints: np.ndarray
    visible: np.ndarray
    annotated: np.ndarray
    images: list[str]
    source: str = ""

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, rows: np.ndarray | slice) -> "LspAnnotations":
        idx = np.arange(len(self))[rows]
        return LspAnnotations(self.joints[idx], self.visible[idx], self.annotated[idx], [self.images[i] for i in idx], self.source)


def read_lsp(path: str | Path, *, third_row: str = "auto") -> LspAnnotations:
    """Read an LSP or LSP Extended ``joints.mat``.

    Args:
        path: the ``.mat`` file (variable ``joints``).
        third_row: ``"auto"`` (visibility for ``14×3×N``, occlusion for ``3×14×N``),
            ``"visible"`` or ``"occluded"`` to force a reading.

    Raises ``FileNotFoundError`` for a missing file and :class:`~lib.errors.DataFileError` (a
    ``ValueError``) for an empty, truncated or garbage file, a missing ``joints`` variable, or a
    shape that is neither layout (naming the shape found).
    """
    path = Path(path)
    if third_row not in ("auto", "visible", "occluded"):
        raise ValueError(f"third_row must be 'auto', 'visible' or 'occluded', got {third_row!r}")
    if not path.is_file():
        raise FileNotFoundError(f"LSP annotation file {path} not found (joints.mat)")
    m = load_mat(path)
    if "joints" not in m:
        raise DataFileError(path, f"has no variable 'joints' (found {sorted(k for k in m if not k.startswith('__'))})",
                            MAT_FIX)
    try:
        raw = np.asarray(m["joints"], dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise DataFileError(path, f"'joints' is not a numeric array ({describe(e)})", MAT_FIX) from None
    if raw.ndim == 3 and raw.shape[:2] == (NUM_LSP_JOINTS, 3):
        per_person, layout = raw.transpose(2, 0, 1), "extended"
    elif raw.ndim == 3 and raw.shape[:2] == (3, NUM_LSP_JOINTS):
        per_person, layout = raw.transpose(2, 1, 0), "original"
    elif raw.ndim == 3 and raw.shape[1:] == (NUM_LSP_JOINTS, 3):
        per_person, layout = raw, "extended"
    else:
        raise DataFileError(
            path, f"'joints' has shape {raw.shape}, expected 14×3×N (LSP Extended), 3×14×N (LSP) or N×14×3", MAT_FIX
        )
    if len(per_person) == 0:
        raise DataFileError(path, "'joints' holds no people", MAT_FIX)
    if not np.isfinite(per_person).all():
        raise DataFileError(path, "'joints' contains NaN or infinite values", MAT_FIX)
    flag = per_person[:, :, 2] > 0
    if third_row == "occluded" or (third_row == "auto" and layout == "original"):
        annotated, visible = np.ones_like(flag), ~flag
    else:
        # LSP Extended: unflagged joints have no position, so they are not annotated either.
        annotated = flag if layout == "extended" else np.ones_like(flag)
        visible = flag
    joints = np.where(annotated[..., None], per_person[:, :, :2] - 1, 0).astype(np.float32)
    n = len(per_person)
    digits = 5 if layout == "extended" else 4
    images = [f"im{i + 1:0{digits}d}.jpg" for i in range(n)]
    return LspAnnotations(joints, visible & annotated, annotated, images, str(path))


def lspet_split(ann: LspAnnotations, split: str) -> LspAnnotations:
    """The fixed split of LSP Extended: ``"val"`` is the last 1,000 people, ``"train"`` the rest."""
    if split not in ("train", "val"):
        raise ValueError(f"unknown LSP split {split!r}; choose 'train' or 'val'")
    if len(ann) <= LSPET_TEST_SIZE:
        raise DataFileError(ann.source, f"has {len(ann)} people, but the LSP Extended split needs more than "
                                        f"{LSPET_TEST_SIZE}", "use LSP Extended's joints.mat (10,000 people)")
    cut = len(ann) - LSPET_TEST_SIZE
    return ann.subset(slice(cut, None) if split == "val" else slice(0, cut))


def person_boxes(ann: LspAnnotations) -> tuple[np.ndarray, np.ndarray]:
    """Square person boxes from the annotated joints' extent: ``(centers N×2, sides N)``.

    Centre = middle of the annotated joints' bounding box; side = :data:`BOX_FACTOR` × its
    larger side. A person with fewer than two distinct annotated joints has no extent: error.
    """
    mask = ann.annotated[..., None]
    lo = np.where(mask, ann.joints, np.inf).min(1)
    hi = np.where(mask, ann.joints, -np.inf).max(1)
    extent = (hi - lo).max(1)
    bad = np.flatnonzero(~(extent > 0))
    if len(bad):
        raise DataFileError(ann.source, f"people {[ann.images[i] for i in bad[:5]]} have fewer than two distinct "
                                        "annotated joints, so no person box", MAT_FIX)
    return ((lo + hi) / 2).astype(np.float32), (BOX_FACTOR * extent).astype(np.float32)


def torso_sizes(ann: LspAnnotations, sides: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PCK@0.2 normaliser per person in image pixels, and which rule gave it (``N`` int8).

    Rule 0: |left shoulder − right hip|, the torso of the standard LSP evaluation that PBN's
    Tables 4-5 use (``lib.metrics.TORSO_JOINTS``; PBN Sec. 4).
    Rule 1: |right shoulder − left hip| when rule 0's joints are not both annotated.
    Rule 2: neither diagonal annotated (17% of LSP Extended, which annotates visible joints
    only): the median torso-to-box ratio of the people with rule 0, times this person's box side.
    """
    def diag(a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        ok = ann.annotated[:, a] & ann.annotated[:, b]
        return np.linalg.norm(ann.joints[:, a] - ann.joints[:, b], axis=1), ok

    d0, ok0 = diag(_L_SHO, _R_HIP)
    d1, ok1 = diag(_R_SHO, _L_HIP)
    ok0 &= d0 > 0
    ok1 &= d1 > 0
    ratio = np.median(d0[ok0] / sides[ok0]) if ok0.any() else 0.3
    size = np.where(ok0, d0, np.where(ok1, d1, ratio * sides))
    rule = np.where(ok0, 0, np.where(ok1, 1, 2)).astype(np.int8)
    return size.astype(np.float32), rule
