"""Reading the annotation and prediction files the evaluations share: MATLAB ``.mat``, ``.npy``,
the official MPII validation ground truth and MPII prediction files.

One reader per file kind, each turning a damaged or foreign file into one
:class:`~lib.errors.DataFileError` that names the file, the problem and the fix:

* :func:`load_mat` / :func:`load_npy`: any ``.mat`` (LSP's ``joints.mat``, ground truths,
  predictions) or ``.npy`` array;
* :func:`load_mpii_gt`: ``detections_our_format.mat`` (Tompson/Newell's ``eval_PCKh.m`` layout,
  which the official evaluation and HRNet read too) into people-first arrays
  (:class:`MpiiGroundTruth`);
* :func:`load_predictions`: MPII predictions, ``N×16×2`` in 1-based image pixels, as
  :mod:`lib.export` writes them and ``python -m lib.metrics pckh`` scores them.

The scoring itself (arrays in, numbers out) is :mod:`lib.metrics`; writing prediction files is
:mod:`lib.export`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from lib.errors import DataFileError, describe
from lib.joints import NUM_MPII_JOINTS
from lib.metrics import head_size


def load_mat(path: str | Path) -> dict:
    """A MATLAB ``.mat`` file as a dict: ``FileNotFoundError`` if missing, else
    :class:`~lib.errors.DataFileError` for a file scipy cannot parse (empty, truncated, garbage,
    or MATLAB's HDF5-based v7.3 format).
    """
    from scipy.io import loadmat  # scipy only for the file readers

    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} does not exist")
    if Path(path).stat().st_size == 0:
        raise DataFileError(path, "is empty", "copy or download the .mat file again")
    try:
        mat = loadmat(str(path))
    except NotImplementedError as e:  # scipy's answer to v7.3 files
        raise DataFileError(path, f"is a MATLAB v7.3 (HDF5) file ({describe(e)})",
                            "save it again with MATLAB's -v7 option") from None
    except Exception as e:  # noqa: BLE001 - a damaged file fails anywhere in scipy's parser
        raise DataFileError(path, f"is not a readable MATLAB .mat file, truncated or damaged ({describe(e)})",
                            "copy or download the .mat file again") from None
    if not _keys(mat):
        raise DataFileError(path, "holds no variables (a bare header: truncated?)", "copy or download the .mat file again")
    return mat


def load_npy(path: str | Path, fix: str) -> np.ndarray:
    """A ``.npy`` array (no pickles): ``FileNotFoundError`` if missing, else
    :class:`~lib.errors.DataFileError` (with ``fix``) for an empty, truncated or garbage file."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError) as e:
        raise DataFileError(path, f"is not a readable .npy array, truncated or damaged ({describe(e)})", fix) from None
    if not isinstance(arr, np.ndarray):  # a .npz archive under a .npy name
        arr.close()
        raise DataFileError(path, "is an .npz archive, not a .npy array", fix)
    return arr


def _keys(mat: Mapping) -> list[str]:
    return sorted(k for k in mat if not k.startswith("__"))


@dataclass(frozen=True)
class MpiiGroundTruth:
    """The official MPII validation ground truth (``detections_our_format.mat``), people first.

    Attributes:
        joints: ``N×16×2`` positions in MPII's 1-based image pixels (``pos_gt_src``).
        headboxes: ``N×2×2`` head boxes ((x1, y1), (x2, y2)) (``headboxes_src``).
        annotated: ``N×16`` bool, ``jnt_missing == 0``.
        visible: ``N×16`` bool visibility when the file has a ``visible`` (16×N) entry, else None.
    """

    joints: np.ndarray
    headboxes: np.ndarray
    annotated: np.ndarray
    visible: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.joints)

    @property
    def norm(self) -> np.ndarray:
        """``N`` head sizes (:func:`lib.metrics.head_size`: 0.6 × the head box diagonal)."""
        return head_size(self.headboxes)


def load_mpii_gt(path: str | Path) -> MpiiGroundTruth:
    """Read an official ground-truth ``.mat`` into people-first arrays.

    The file holds ``pos_gt_src`` (16×2×N), ``headboxes_src`` (2×2×N), ``jnt_missing`` (16×N) and
    optionally ``visible`` (16×N); ``detections_our_format.mat`` has no visibility. A file that is
    not such a ground truth raises :class:`~lib.errors.DataFileError`.
    """
    fix = "use the official detections_our_format.mat (download it again if it is damaged)"
    mat = load_mat(path)
    need = ("pos_gt_src", "headboxes_src", "jnt_missing")
    lacking = [k for k in need if k not in mat]
    if lacking:
        raise DataFileError(path, f"lacks {lacking} (found {_keys(mat)}), so it is no official MPII ground truth", fix)
    try:
        pos, boxes, missing = (np.asarray(mat[k], dtype=np.float64) for k in need)
        visible = np.asarray(mat["visible"], dtype=np.float64) if "visible" in mat else None
    except (TypeError, ValueError) as e:
        raise DataFileError(path, f"holds non-numeric ground truth ({describe(e)})", fix) from None
    n = pos.shape[-1] if pos.ndim == 3 else -1
    expected = {"pos_gt_src": (pos, (16, 2, n)), "headboxes_src": (boxes, (2, 2, n)), "jnt_missing": (missing, (16, n))}
    if visible is not None:
        expected["visible"] = (visible, (16, n))
    for name, (arr, shape) in expected.items():
        if arr.shape != shape:
            raise DataFileError(path, f"{name} has shape {arr.shape}, expected {shape}", fix)
    return MpiiGroundTruth(
        joints=pos.transpose(2, 0, 1),
        headboxes=boxes.transpose(2, 0, 1),
        annotated=missing.T == 0,
        visible=None if visible is None else visible.T.astype(bool),
    )


def load_predictions(path: str | Path) -> np.ndarray:
    """``N×16×2`` predictions from a ``.npy`` array or a ``.mat`` with ``preds`` (``N×16×2`` or ``16×2×N``).

    Coordinates must be those of the ground truth file: MPII's 1-based image pixels (add 1 to
    0-based pixel positions, as HRNet does before saving ``pred.mat``). A damaged or foreign file
    raises :class:`~lib.errors.DataFileError`.
    """
    path = Path(path)
    fix = "write the predictions again (N×16×2 array, 1-based MPII image pixels)"
    if path.suffix not in (".npy", ".mat"):
        raise DataFileError(path, f"predictions must be a .npy or .mat file, got {path.suffix!r}", fix)
    if path.suffix == ".npy":
        preds = load_npy(path, fix)
    else:
        mat = load_mat(path)
        if "preds" not in mat:
            raise DataFileError(path, f"has no 'preds' entry (found {_keys(mat)})", "save the predictions as preds")
        preds = np.asarray(mat["preds"])
    try:
        preds = preds.astype(np.float64)
    except (TypeError, ValueError) as e:
        raise DataFileError(path, f"predictions are not numbers ({describe(e)})", fix) from None
    if preds.ndim == 3 and preds.shape[1:] == (NUM_MPII_JOINTS, 2):
        return preds
    if preds.ndim == 3 and preds.shape[:2] == (NUM_MPII_JOINTS, 2):
        return preds.transpose(2, 0, 1)
    raise DataFileError(
        path, f"predictions have shape {preds.shape}, expected N×16×2 or 16×2×N (MPII's 16 joints, x and y)", fix
    )
