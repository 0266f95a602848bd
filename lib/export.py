"""Prediction files in the layouts the official evaluations and the peers read.

* **MPII** (``.mat``): ``preds``, people × 16 × 2, (x, y) in MPII's 1-based image pixels
  (0-based pixel centres + 1, as HRNet writes ``pred.mat``), MPII's joint order (``lib.joints``:
  0 r ankle ... 15 l wrist), one row per person of the official validation ground truth
  ``detections_our_format.mat`` in its order: what ``python -m lib.metrics pckh`` and the
  Tompson/Newell ``eval_PCKh.m`` read. When only some validation people were predicted (the
  shared data has photos of 7 of the 2,958), the file also holds ``gt_rows`` (1-based rows of the
  official file) and a second file ``<name>_gt.mat`` holds those rows of the official ground
  truth in its own layout (``pos_gt_src`` 16×2×n, ``headboxes_src`` 2×2×n, ``jnt_missing`` 16×n),
  so ``python -m lib.metrics pckh preds.mat --gt preds_gt.mat`` scores exactly those people.
* **LSP** (``.mat`` or ``.csv``): ``preds``, 14 × 2 × people, (x, y) in 1-based image pixels as in
  LSP's own ``joints.mat`` (so a file compares with the annotations without any shift), LSP's
  joint order (``lib.joints.LSP_JOINTS``: 0 r ankle ... 12 neck, 13 head top); ``scores``
  (14 × people, the heatmap peaks) and ``images`` (the image file names). The ``.csv`` has one
  line per person and joint: ``image,joint,x,y,score``, the same coordinates.

Image pixels come from crop pixels through ``PoseSet.origin`` (``image = origin + crop · s``).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from lib.data.poseset import PoseSet
from lib.joints import LSP_JOINTS, LSP_TO_MPII, NUM_MPII_JOINTS
from lib.data.formats import MpiiGroundTruth, load_mat, load_mpii_gt

#: Largest disagreement (image pixels) between a person's joints and an official ground-truth row
#: for the two to be the same person (``lib.data.mpii.attach_headboxes`` uses the same bound).
MATCH_TOLERANCE_PX = 1.0


def image_joints(ps: PoseSet) -> np.ndarray:
    """``N×J×2`` ground-truth joints of ``ps`` back in 0-based image pixels (``PoseSet.origin``)."""
    if ps.origin is None:
        raise ValueError("these people have no origin in a source image (synthetic data); prediction files "
                         "are written for MPII and LSP only")
    return ps.origin[:, None, :2].astype(np.float64) + ps.joints * ps.origin[:, None, 2:3].astype(np.float64)


def match_gt_rows(joints: np.ndarray, annotated: np.ndarray, gt: MpiiGroundTruth) -> np.ndarray:
    """The row of the official ground truth describing each person (0-based indices).

    ``joints`` are ``N×16×2`` in MPII's 1-based image pixels. A row matches when the same joints
    are annotated and every annotated coordinate agrees within :data:`MATCH_TOLERANCE_PX` (the
    ``.mat`` zeroes a coordinate of 13 joints that the json keeps, so exact zeros are skipped).
    Raises ``ValueError`` when a person matches no row or several.
    """
    same_pattern = (gt.annotated[None] == annotated[:, None]).all(-1)  # N×G
    compare = gt.annotated[None, :, :, None] & (gt.joints[None] != 0)
    diff = np.where(compare, np.abs(joints[:, None] - gt.joints[None]), 0).max(axis=(2, 3))
    ok = same_pattern & (diff <= MATCH_TOLERANCE_PX)
    counts = ok.sum(1)
    if (counts != 1).any():
        bad = np.flatnonzero(counts != 1)
        raise ValueError(f"people {bad[:5].tolist()} match {counts[bad[:5]].tolist()} rows of the official ground "
                         "truth (need exactly one); are they MPII validation people?")
    return ok.argmax(1)


def write_mpii(path: str | Path, image_pred: np.ndarray, ps: PoseSet, gt_path: str | Path) -> dict[str, Path]:
    """Write MPII ``preds`` (see the module docstring); returns ``{"predictions": ..., "ground_truth": ...}``.

    ``image_pred`` is ``N×16×2`` in 0-based image pixels, one row per person of ``ps``.
    """
    path = Path(path)
    if path.suffix != ".mat":
        raise ValueError(f"{path}: MPII predictions are written as .mat (the official evaluation's format)")
    if tuple(ps.joint_ids) != tuple(range(NUM_MPII_JOINTS)) or image_pred.shape != (len(ps), NUM_MPII_JOINTS, 2):
        raise ValueError(f"MPII prediction files need all 16 joints of every person, got {image_pred.shape}; "
                         "evaluate a model that predicts all 16 MPII joints")
    gt = load_mpii_gt(gt_path)
    rows = match_gt_rows(image_joints(ps) + 1, ps.annotated, gt)
    preds = image_pred.astype(np.float64) + 1
    from scipy.io import savemat

    path.parent.mkdir(parents=True, exist_ok=True)
    if len(rows) == len(gt) and (rows == np.arange(len(gt))).all():
        savemat(path, {"preds": preds})
        return {"predictions": path, "ground_truth": Path(gt_path)}
    order = np.argsort(rows, kind="stable")  # rows in the official file's order
    rows, preds = rows[order], preds[order]
    savemat(path, {"preds": preds, "gt_rows": (rows + 1).astype(np.float64)})
    gt_cut = path.with_name(f"{path.stem}_gt.mat")
    savemat(gt_cut, {"pos_gt_src": gt.joints[rows].transpose(1, 2, 0),
                     "headboxes_src": gt.headboxes[rows].transpose(1, 2, 0),
                     "jnt_missing": (~gt.annotated[rows]).T.astype(np.float64),
                     "gt_rows": (rows + 1).astype(np.float64)})
    return {"predictions": path, "ground_truth": gt_cut}


def write_lsp(path: str | Path, image_pred: np.ndarray, scores: np.ndarray, images: list[str]) -> dict[str, Path]:
    """Write LSP predictions (``N×14×2`` 0-based image pixels in LSP order) as ``.mat`` or ``.csv``."""
    path = Path(path)
    n = len(images)
    if image_pred.shape != (n, len(LSP_JOINTS), 2) or scores.shape != (n, len(LSP_JOINTS)):
        raise ValueError(f"LSP prediction files need 14 joints of each of {n} people, got {image_pred.shape}")
    xy = image_pred.astype(np.float64) + 1
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".mat":
        from scipy.io import savemat

        savemat(path, {"preds": xy.transpose(1, 2, 0), "scores": scores.T.astype(np.float64),
                       "images": np.array(images, dtype=object)})
    elif path.suffix == ".csv":
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["image", "joint", "x", "y", "score"])
            for i, name in enumerate(images):
                for j, joint in enumerate(LSP_JOINTS):
                    w.writerow([name, joint, f"{xy[i, j, 0]:.3f}", f"{xy[i, j, 1]:.3f}", f"{scores[i, j]:.5f}"])
    else:
        raise ValueError(f"{path}: LSP predictions are written as .mat or .csv, got {path.suffix!r}")
    return {"predictions": path}


def read_lsp(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """``(N×14×2 predictions in 1-based image pixels, image names)`` from a file of :func:`write_lsp`."""
    path = Path(path)
    if path.suffix == ".csv":
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        images = list(dict.fromkeys(r["image"] for r in rows))
        xy = np.full((len(images), len(LSP_JOINTS), 2), np.nan)
        pos = {name: i for i, name in enumerate(images)}
        for r in rows:
            xy[pos[r["image"]], LSP_JOINTS.index(r["joint"])] = float(r["x"]), float(r["y"])
        return xy, images
    mat = load_mat(path)
    if "preds" not in mat:
        raise ValueError(f"{path} has no 'preds' (14×2×N); write it with lib.export.write_lsp")
    preds = np.asarray(mat["preds"], dtype=np.float64)
    if preds.ndim != 3 or preds.shape[:2] != (len(LSP_JOINTS), 2):
        raise ValueError(f"{path}: preds has shape {preds.shape}, expected 14×2×N")
    images = [str(np.asarray(s).ravel()[0]) for s in np.asarray(mat.get("images", [])).ravel()]
    return preds.transpose(2, 0, 1), images


def write_predictions(path: str | Path, ev, ps: PoseSet, data_root: str | Path | None = None) -> dict[str, Path]:
    """The prediction file of a ``lib.inference.Evaluated`` in its dataset's layout (MPII or LSP)."""
    dataset = ev.dataset
    if ev.image_pred is None:
        raise ValueError(f"{dataset} people have no source images (synthetic); prediction files are written for "
                         "mpii and lspet (evaluate with --data mpii or --data lspet)")
    if dataset == "mpii":
        if ev.split != "val":
            raise ValueError("MPII prediction files are for the validation split (the official ground truth)")
        from lib.data.paths import data_root as resolve

        gt_path = resolve(data_root) / "mpii" / "detections_our_format.mat"
        return write_mpii(path, _full(ev, ps, tuple(range(NUM_MPII_JOINTS))), ps, gt_path)
    if dataset == "lspet":
        return write_lsp(path, _full(ev, ps, LSP_TO_MPII), _full_scores(ev, LSP_TO_MPII),
                         list(ps.meta.get("images", [f"#{i}" for i in range(len(ps))])))
    raise ValueError(f"no standard prediction file layout for dataset {dataset!r}; use mpii or lspet")


def _full(ev, ps: PoseSet, order: tuple[int, ...]) -> np.ndarray:
    """``N×len(order)×2`` image-pixel predictions in the MPII-id ``order``; all must be predicted."""
    missing = [j for j in order if j not in ev.joint_ids]
    if missing:
        raise ValueError(f"the model does not predict joints {missing} (MPII ids) that the file layout needs; "
                         "evaluate a model predicting all of the dataset's joints")
    return ev.image_pred[:, [ev.joint_ids.index(j) for j in order]]


def _full_scores(ev, order: tuple[int, ...]) -> np.ndarray:
    return ev.maxvals[:, [ev.joint_ids.index(j) for j in order]]
