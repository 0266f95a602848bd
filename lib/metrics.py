"""PCK metrics: MPII's PCKh (head-normalised) and LSP's PCK@0.2 (torso-normalised), as the papers report them.

A predicted joint is correct when its distance to the ground truth is below ``threshold × norm``:
``norm`` is the head size for PCKh (MPII; PBN Tables 1-3, 6, 7, Fig. 5; KPTransfer Tables 2-5)
and the torso size for PCK (LSP; PBN Tables 4-5). Every dataset goes through the same core:
:func:`pck_hits` gives the per-person, per-joint correctness (also what the bootstrap of
``lib.stats`` resamples), :func:`pck_table` turns it into the papers' table columns.

Conventions, checked against the official MPII evaluation (``evalMPII.m``: ``computePCK``,
``genTablePCK``), the Tompson/Newell ``eval_PCKh.m`` that produced ``detections_our_format.mat``,
and HRNet's ``MPIIDataset.evaluate``:

* head size = 0.6 × the diagonal of the annotated head box (``SC_BIAS``);
* a joint is evaluated only where annotated (``jnt_missing == 0``), so missing joints leave both
  numerator and denominator;
* correct means ``error / norm < threshold``, strictly, as in ``eval_PCKh.m``; the official
  Matlab and HRNet use ``<=``. The two differ only for errors exactly on the boundary (none of
  the 2958 × 16 published predictions in ``detections_our_format.mat``);
* every aggregate (a table column, ``Mean``, ``Hard``) is pooled: correct joints over evaluated
  joints of its members, i.e. the per-joint values weighted by their joint counts. This is how
  the official code and HRNet compute the total; for the two-joint columns they take the plain
  mean of the two per-joint values, which differs by at most 0.001 points on the published
  predictions (left and right counts are nearly equal) but is skewed on splits where one side
  has few joints (the invisible-joint table);
* ``Head`` pools the upper neck and head top as the official ``genTablePCK`` does (HRNet and
  ``eval_PCKh.m`` print the head top alone); ``Mean`` leaves out pelvis and thorax
  (:data:`lib.joints.MEAN_EXCLUDED`), as all three and KPTransfer Sec. 4 do;
* ``Mean@0.1`` is the Mean at threshold 0.1 (HRNet's reads its curve at index 11, i.e. 0.11).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from lib.errors import report_error
from lib.joints import HARD_JOINTS, MEAN_EXCLUDED, MPII_JOINTS, NUM_MPII_JOINTS, TABLE_COLUMNS, idx

if TYPE_CHECKING:  # the file readers live with the data formats and import this module
    from lib.data.formats import MpiiGroundTruth

#: MPII's head-size factor (``SC_BIAS`` in the official code: 0.8 × 0.75).
HEAD_SIZE_FACTOR = 0.6
PCKH_THRESHOLD = 0.5
PCK_THRESHOLD = 0.2
#: The official curve thresholds ``0:0.01:0.5``.
CURVE_THRESHOLDS: tuple[float, ...] = tuple(round(0.01 * i, 2) for i in range(51))
#: The torso of LSP's PCK: from the left shoulder to the right hip (the standard LSP evaluation,
#: ``getDistPCK.m``: ``norm(gt(:,10,i) - gt(:,3,i))`` in LSP's 1-based order).
TORSO_JOINTS: tuple[int, int] = idx("l_shoulder", "r_hip")
TABLE_KEYS: tuple[str, ...] = (*TABLE_COLUMNS, "Mean", "Mean@0.1")

Columns = Mapping[str, Sequence[int]]


# ---------------------------------------------------------------------------------------------
# normalisers


def head_size(headboxes: np.ndarray) -> np.ndarray:
    """``N`` head sizes from ``N×2×2`` head boxes (corner, xy): 0.6 × the box diagonal."""
    headboxes = np.asarray(headboxes, dtype=np.float64)
    if headboxes.ndim != 3 or headboxes.shape[1:] != (2, 2):
        raise ValueError(f"headboxes must be N×2×2 ((x1, y1), (x2, y2)), got shape {headboxes.shape}")
    return HEAD_SIZE_FACTOR * np.linalg.norm(headboxes[:, 1] - headboxes[:, 0], axis=-1)


def torso_size(joints: np.ndarray, joint_ids: Sequence[int], annotated: np.ndarray | None = None) -> np.ndarray:
    """``N`` torso sizes for LSP's PCK: the distance from the left shoulder to the right hip.

    PBN Sec. 4: "for LSP, the distance is normalized by the torso size". The standard LSP
    evaluation that PBN's Tables 4-5 compare against measures the torso from the left shoulder to
    the right hip (:data:`TORSO_JOINTS`). ``joints`` is ``N×J×2`` in any order, ``joint_ids`` the
    MPII index of each column (``lib.joints.LSP_TO_MPII`` for LSP files). Where ``annotated``
    says either torso joint is missing, the size is NaN and :func:`pck_hits` skips the person.
    """
    joints = np.asarray(joints, dtype=np.float64)
    ids = [int(j) for j in joint_ids]
    if joints.ndim != 3 or joints.shape[1:] != (len(ids), 2):
        raise ValueError(f"joints must be N×{len(ids)}×2 for {len(ids)} joint ids, got shape {joints.shape}")
    missing = [MPII_JOINTS[j] for j in TORSO_JOINTS if j not in ids]
    if missing:
        raise ValueError(f"torso size needs {missing} among the joint ids {ids}")
    a, b = (ids.index(j) for j in TORSO_JOINTS)
    size = np.linalg.norm(joints[:, a] - joints[:, b], axis=-1)
    if annotated is not None:
        annotated = np.asarray(annotated, dtype=bool)
        size = np.where(annotated[:, a] & annotated[:, b], size, np.nan)
    return size


# ---------------------------------------------------------------------------------------------
# the generic core


def normalized_errors(
    pred: np.ndarray, gt: np.ndarray, annotated: np.ndarray, norm: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``N×J`` errors divided by each person's ``norm``, and the ``N×J`` mask of evaluated joints.

    A joint is evaluated where it is annotated and its person's ``norm`` is finite (a NaN torso
    skips the person). Non-finite predictions count as wrong, as the official code's ``inf``.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    annotated = np.asarray(annotated, dtype=bool)
    norm = np.asarray(norm, dtype=np.float64)
    if gt.ndim != 3 or gt.shape[-1] != 2:
        raise ValueError(f"gt must be N×J×2, got shape {gt.shape}")
    n, j = gt.shape[:2]
    for name, arr, shape in (("pred", pred, (n, j, 2)), ("annotated", annotated, (n, j)), ("norm", norm, (n,))):
        if arr.shape != shape:
            raise ValueError(f"{name} must have shape {shape} to match gt {gt.shape}, got {arr.shape}")
    bad = np.isfinite(norm) & (norm <= 0)
    if bad.any():
        raise ValueError(f"norm must be positive, got {norm[bad][:3]} for people {np.flatnonzero(bad)[:3]}")
    evaluated = annotated & np.isfinite(norm)[:, None]
    with np.errstate(invalid="ignore"):
        errors = np.linalg.norm(pred - gt, axis=-1) / norm[:, None]
    errors = np.where(np.isnan(errors), np.inf, errors)
    return errors, evaluated


def pck_hits(
    pred: np.ndarray, gt: np.ndarray, annotated: np.ndarray, norm: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-person correctness: ``hits`` (``N×J`` bool) and ``evaluated`` (``N×J`` bool).

    ``hits`` is True where the joint is evaluated and ``error / norm < threshold``; ``norm`` is
    the head size (PCKh, :func:`head_size`) or the torso size (PCK, :func:`torso_size`) in the
    units of ``pred`` and ``gt``. These two arrays are all a table, a curve or a bootstrap needs.
    """
    errors, evaluated = normalized_errors(pred, gt, annotated, norm)
    return (errors < threshold) & evaluated, evaluated


def per_joint(hits: np.ndarray, evaluated: np.ndarray) -> np.ndarray:
    """``J`` per-joint PCK in percent (NaN for a joint never evaluated)."""
    hits, evaluated = _check_hits(hits, evaluated)
    return _percent((hits & evaluated).sum(0), evaluated.sum(0))


def pck_table(
    hits: np.ndarray, evaluated: np.ndarray, joint_ids: Sequence[int], columns: Columns = TABLE_COLUMNS
) -> dict[str, float]:
    """The papers' table row in percent: one entry per column, then ``Mean`` and ``Hard``.

    A column (``Head``, ``Sho.``, ..., :data:`lib.joints.TABLE_COLUMNS`) appears when any of its
    MPII joints is among ``joint_ids`` and pools its joints' hits. ``Mean`` pools all joints but
    pelvis and thorax; ``Hard`` pools the ten hard joints of PBN Sec. 4.3 (ankles, knees, hips,
    wrists, elbows) and appears when one of them is present. A value is NaN where nothing was
    evaluated (e.g. ``Head`` among invisible joints, PBN Table 3).
    """
    hits, evaluated = _check_hits(hits, evaluated)
    ids = [int(j) for j in joint_ids]
    if len(ids) != hits.shape[1]:
        raise ValueError(f"{len(ids)} joint ids for {hits.shape[1]} joints; give one MPII index per column")
    correct, count = (hits & evaluated).sum(0), evaluated.sum(0)

    def pooled(members: Sequence[int]) -> float:
        cols = [ids.index(j) for j in members if j in ids]
        return float(_percent(correct[cols].sum(), count[cols].sum()))

    table = {name: pooled(members) for name, members in columns.items() if any(j in ids for j in members)}
    table["Mean"] = pooled([j for j in ids if j not in MEAN_EXCLUDED])
    if any(j in ids for j in HARD_JOINTS):
        table["Hard"] = pooled(HARD_JOINTS)
    return table


def visibility_tables(
    hits: np.ndarray, evaluated: np.ndarray, visible: np.ndarray, joint_ids: Sequence[int]
) -> dict[str, dict[str, float]]:
    """Tables for ``all``, ``visible`` and ``invisible`` joints (PBN Table 3: invisible parts).

    ``visible`` is the ``N×J`` visibility flag of the annotations (MPII's ``is_visible``; the head
    joints carry none, PBN Sec. 4.2). An annotated joint that is not visible is invisible.
    """
    visible = np.asarray(visible, dtype=bool)
    if visible.shape != np.shape(evaluated):
        raise ValueError(f"visible must have the shape of evaluated {np.shape(evaluated)}, got {visible.shape}")
    evaluated = np.asarray(evaluated, dtype=bool)
    return {
        "all": pck_table(hits, evaluated, joint_ids),
        "visible": pck_table(hits, evaluated & visible, joint_ids),
        "invisible": pck_table(hits, evaluated & ~visible, joint_ids),
    }


def pck_curve(
    pred: np.ndarray,
    gt: np.ndarray,
    annotated: np.ndarray,
    norm: np.ndarray,
    thresholds: Sequence[float] = CURVE_THRESHOLDS,
    joint_ids: Sequence[int] = tuple(range(NUM_MPII_JOINTS)),
    column: str = "Mean",
) -> np.ndarray:
    """PCK of one table ``column`` (default ``Mean``) at each threshold, in percent.

    The PCKh curve of the official evaluation (thresholds ``0:0.01:0.5``); non-decreasing in the
    threshold by construction. With the strict ``<`` it starts at 0 even for perfect predictions.
    """
    errors, evaluated = normalized_errors(pred, gt, annotated, norm)
    curve = []
    for t in thresholds:
        table = pck_table((errors < t) & evaluated, evaluated, joint_ids)
        if column not in table:
            raise ValueError(f"column {column!r} is not in the table of joints {list(joint_ids)}: {list(table)}")
        curve.append(table[column])
    return np.asarray(curve)


# ---------------------------------------------------------------------------------------------
# the official MPII validation ground truth (read by :mod:`lib.data.formats`)


def evaluate_mpii(preds: np.ndarray, gt: MpiiGroundTruth, threshold: float = PCKH_THRESHOLD) -> dict[str, float]:
    """The MPII table (percent): columns, ``Mean``, ``Hard`` and ``Mean@0.1``, for ``N×16×2`` predictions."""
    preds = np.asarray(preds, dtype=np.float64)
    if preds.shape != gt.joints.shape:
        raise ValueError(
            f"predictions have shape {preds.shape} but the ground truth has {gt.joints.shape}: give one "
            "prediction per validation person, in the order of the ground-truth file"
        )
    ids = range(NUM_MPII_JOINTS)
    table = pck_table(*pck_hits(preds, gt.joints, gt.annotated, gt.norm, threshold), ids)
    table["Mean@0.1"] = pck_table(*pck_hits(preds, gt.joints, gt.annotated, gt.norm, 0.1), ids)["Mean"]
    return table


def format_table(table: Mapping[str, float], keys: Sequence[str] = (*TABLE_KEYS, "Hard")) -> str:
    """Two aligned lines, header and values with one decimal, for the keys present in ``table``."""
    keys = [k for k in keys if k in table]
    return "\n".join(("".join(f"{k:>9}" for k in keys), "".join(f"{table[k]:>9.1f}" for k in keys)))


# ---------------------------------------------------------------------------------------------
# command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lib.metrics pckh PREDICTIONS --gt GT.mat [--threshold 0.5] [--json]``."""
    parser = argparse.ArgumentParser(prog="python -m lib.metrics", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pckh", help="PCKh of MPII validation predictions against the official ground truth")
    p.add_argument("predictions", type=Path, help=".npy, or .mat with 'preds' (N×16×2 or 16×2×N), 1-based")
    p.add_argument("--gt", type=Path, required=True, help="detections_our_format.mat")
    p.add_argument("--threshold", type=float, default=PCKH_THRESHOLD)
    p.add_argument("--json", action="store_true", help="end with one JSON line: columns, per-joint values, mean")
    args = parser.parse_args(argv)
    from lib.data.formats import load_mpii_gt, load_predictions

    try:
        gt = load_mpii_gt(args.gt)
        preds = load_predictions(args.predictions)
        table = evaluate_mpii(preds, gt, args.threshold)
    except (OSError, ValueError) as e:  # DataFileError included: one line, no traceback
        return report_error(e)
    print(f"PCKh@{args.threshold:g} of {args.predictions.name} on {len(gt)} people ({args.gt.name})")
    print(format_table(table))
    if args.json:
        joints = per_joint(*pck_hits(preds, gt.joints, gt.annotated, gt.norm, args.threshold))
        record = {
            "threshold": args.threshold,
            "people": len(gt),
            "columns": table,
            "joints": dict(zip(MPII_JOINTS, (None if np.isnan(v) else float(v) for v in joints))),
            "mean": table["Mean"],
        }
        print(json.dumps(record))
    return 0


# ---------------------------------------------------------------------------------------------
# helpers


def _check_hits(hits: np.ndarray, evaluated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hits, evaluated = np.asarray(hits, dtype=bool), np.asarray(evaluated, dtype=bool)
    if hits.ndim != 2 or hits.shape != evaluated.shape:
        raise ValueError(f"hits and evaluated must both be N×J, got {hits.shape} and {evaluated.shape}")
    return hits, evaluated


def _percent(correct: np.ndarray, count: np.ndarray) -> np.ndarray:
    correct, count = np.asarray(correct, dtype=np.float64), np.asarray(count, dtype=np.float64)
    return np.divide(100.0 * correct, count, out=np.full_like(count, np.nan), where=count > 0)


if __name__ == "__main__":
    raise SystemExit(main())
