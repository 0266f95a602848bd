"""MPII Human Pose annotations: both json layouts and the official validation ground truth.

Two person-annotation layouts are in common use and both are read here:

* the **full layout** (``mpii_annotations.json(.gz)``, from the stacked-hourglass
  preprocessing): one record per person with ``img_paths``, ``isValidation``, ``objpos``,
  ``scale_provided`` and ``joint_self`` (16 × [x, y, visible], missing joints [0, 0, 0]);
* the **common layout** (``train.json`` / ``valid.json`` of HRNet and mmpose): ``image``,
  ``center``, ``scale``, ``joints`` (16 × [x, y], missing joints [-1, -1]) and ``joints_vis``,
  which is 1 for *annotated* joints: it is not MPII's visibility flag, so a file in this layout
  has ``visibility_known == False`` and ``visible`` is a copy of ``annotated``.

The official validation ground truth (``detections_our_format.mat``, used by the official
PCKh evaluation, PBN Sec. 4 / KPTransfer Sec. 4) carries the head boxes; they are attached to the
validation people by order, after checking that the file describes the same people.

Coordinates: MPII's files are MATLAB-style 1-based pixels; like the reference implementations
(HRNet, pytorch-pose) we subtract 1 from joints, centres and head boxes, so that pixel centres
sit at integer coordinates as :class:`~lib.data.poseset.PoseSet` requires. Missing joints become
(0, 0) with ``annotated`` False. Joints outside the image (366 in the full set) are kept: they are
annotated and the official evaluation counts them.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from lib.errors import DataFileError, check_magic, describe
from lib.joints import MPII_JOINTS, NUM_MPII_JOINTS
from lib.data.formats import load_mpii_gt

_HEAD_TOP, _UPPER_NECK = MPII_JOINTS.index("head_top"), MPII_JOINTS.index("upper_neck")

#: PCKh head size = HEAD_BOX_FACTOR × head-box diagonal (the official evaluation).
HEAD_BOX_FACTOR = 0.6

#: Head size = HEAD_SEGMENT_FACTOR × |head top − upper neck| when no head box is known.
#: MPII placed both points on the head box's diagonal 10% in from its corners, so the segment is
#: 0.8 × the diagonal and 0.6 / 0.8 = 0.75 reproduces the official head size: on the 2,932
#: validation people with both points annotated, 2,759 agree within 0.1%, 40 differ by more
#: than 1% (at most 17%): a difference from the official normaliser on train only.
HEAD_SEGMENT_FACTOR = 0.75

#: The usual split sizes of the full layout.
MPII_TRAIN_SIZE, MPII_VAL_SIZE = 22_246, 2_958

#: What to do about a damaged or foreign annotation file.
JSON_FIX = "use the MPII annotation file as distributed (download or copy it again)"


@dataclass
class MpiiAnnotations:
    """MPII people as read from the files; arrays share their first axis (one row per person).

    Attributes:
        joints: ``N×16×2`` float32, 0-based image pixels, (0, 0) where not annotated.
        annotated: ``N×16`` bool, the joint has a ground-truth position.
        visible: ``N×16`` bool, MPII's visibility flag (False where not annotated); a copy of
            ``annotated`` when ``visibility_known`` is False.
        center: ``N×2`` float32 person centre (``objpos``), 0-based image pixels.
        scale: ``N`` float32 person scale (person height / 200 px, ``scale_provided``).
        is_validation: ``N`` bool, the person belongs to the usual 2,958-person validation set.
        images: image file name of each person (relative to the images folder).
        headboxes: ``N×2×2`` float32 head boxes ([[x1, y1], [x2, y2]], 0-based) from the official
            ground truth, NaN for people it does not cover (train); None if no ``.mat`` was read.
        visibility_known: whether ``visible`` holds MPII's flag (full layout) or not.
        source: the file read, for provenance.
        image_sizes: ``N×2`` (width, height) the annotations were made on (full layout), used to
            catch resized photos; None when the file does not say.
    """

    joints: np.ndarray
    annotated: np.ndarray
    visible: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    is_validation: np.ndarray
    images: list[str]
    headboxes: np.ndarray | None = None
    visibility_known: bool = True
    source: str = ""
    image_sizes: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.images)
        expect = {"joints": (n, NUM_MPII_JOINTS, 2), "annotated": (n, NUM_MPII_JOINTS),
                  "visible": (n, NUM_MPII_JOINTS), "center": (n, 2), "scale": (n,), "is_validation": (n,)}
        if self.headboxes is not None:
            expect["headboxes"] = (n, 2, 2)
        if self.image_sizes is not None:
            expect["image_sizes"] = (n, 2)
        for name, shape in expect.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"MpiiAnnotations.{name} has shape {getattr(self, name).shape}, expected {shape}")

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, rows: np.ndarray) -> "MpiiAnnotations":
        """The people at ``rows`` (integer indices or a boolean mask)."""
        rows = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows, dtype=np.int64)
        kw = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("joints", "annotated", "visible", "center", "scale", "is_validation", "headboxes", "image_sizes"):
            if kw[name] is not None:
                kw[name] = kw[name][rows]
        kw["images"] = [self.images[i] for i in rows]
        return MpiiAnnotations(**kw)

    def split(self, split: str) -> "MpiiAnnotations":
        """``"train"`` or ``"val"`` people (the usual 22,246 / 2,958 split of the full layout)."""
        if split not in ("train", "val"):
            raise ValueError(f"unknown MPII split {split!r}; choose 'train' or 'val'")
        return self.subset(self.is_validation if split == "val" else ~self.is_validation)


def read_mpii(path: str | Path, gt_mat: str | Path | None = None, *, validation: bool | None = None) -> MpiiAnnotations:
    """Read MPII person annotations in either json layout (``.json`` or ``.json.gz``).

    Args:
        path: the annotation file; the layout is recognised from its records' keys.
        gt_mat: optional official ground truth (``detections_our_format.mat``) whose head boxes
            are attached to the validation people by order (see :func:`attach_headboxes`).
        validation: for the common layout only (it has no split flag): whether the file's people
            are validation people. ``None`` infers it from the file name (``valid``/``val``/
            ``test`` in the name means validation).

    Raises ``FileNotFoundError`` for a missing file and :class:`~lib.errors.DataFileError` (a
    ``ValueError``) naming the file, record and key for an empty, truncated, garbage or malformed one.
    """
    path = Path(path)
    records = _load_json(path)
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        raise DataFileError(path, "is json but not a non-empty list of person records (dicts)", JSON_FIX)
    if "joint_self" in records[0]:
        ann = _parse_full(records, path)
    elif "joints" in records[0] and "center" in records[0]:
        if validation is None:
            validation = any(w in path.name.lower() for w in ("valid", "val.", "test"))
        ann = _parse_common(records, path, validation)
    else:
        raise DataFileError(
            path, f"unknown MPII layout (record keys {sorted(records[0])})",
            "give the full mpii_annotations.json(.gz) (records with 'joint_self') or train.json/valid.json "
            "(records with 'joints' and 'center')",
        )
    if gt_mat is not None:
        ann = attach_headboxes(ann, gt_mat)
    return ann


def _load_json(path: Path):
    """The json (``.json``, or gzip-compressed ``.json.gz``) at ``path``; a truncated gzip stream,
    a truncated or garbage json text and an empty file are each a :class:`DataFileError`."""
    if not path.is_file():
        raise FileNotFoundError(f"MPII annotation file {path} not found")
    if path.stat().st_size == 0:
        raise DataFileError(path, "is empty", JSON_FIX)
    if path.suffix == ".gz":
        check_magic(path, b"\x1f\x8b", "gzip file", JSON_FIX)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            return json.load(f)
    except EOFError as e:  # gzip stream cut short
        raise DataFileError(path, f"is truncated ({describe(e)})", JSON_FIX) from None
    except (OSError, zlib.error) as e:  # not gzip, or a damaged stream
        raise DataFileError(path, f"is not a readable gzip file ({describe(e)})", JSON_FIX) from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise DataFileError(path, f"is not valid json, truncated or damaged ({describe(e)})", JSON_FIX) from None


def _field(records: list[dict], key: str, path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """``records[i][key]`` stacked into float32 ``N×shape``, with errors naming the bad record."""
    out = np.empty((len(records), *shape), dtype=np.float32)
    for i, r in enumerate(records):
        if key not in r:
            raise DataFileError(path, f"record {i} has no {key!r} (keys: {sorted(r)})", JSON_FIX)
        try:
            out[i] = np.asarray(r[key], dtype=np.float32).reshape(shape) if shape else float(r[key])
        except (TypeError, ValueError) as e:
            try:
                got = np.shape(r[key]) if not isinstance(r[key], (str, dict)) else type(r[key]).__name__
            except ValueError:  # a ragged list has no shape
                got = "a ragged list"
            raise DataFileError(path, f"record {i} {key!r} should have shape {shape}, got {got} ({e})", JSON_FIX) from None
    return out


def _names(records: list[dict], key: str, path: Path) -> list[str]:
    out = []
    for i, r in enumerate(records):
        if not isinstance(r.get(key), str) or not r[key]:
            raise DataFileError(path, f"record {i} has no image name under {key!r}", JSON_FIX)
        out.append(r[key])
    return out


def _parse_full(records: list[dict], path: Path) -> MpiiAnnotations:
    raw = _field(records, "joint_self", path, (NUM_MPII_JOINTS, 3))
    annotated = ~((raw[:, :, 0] == 0) & (raw[:, :, 1] == 0))
    joints = np.where(annotated[..., None], raw[:, :, :2] - 1, 0).astype(np.float32)
    return MpiiAnnotations(
        joints=joints,
        annotated=annotated,
        visible=annotated & (raw[:, :, 2] > 0),
        center=_field(records, "objpos", path, (2,)) - 1,
        scale=_scales(_field(records, "scale_provided", path, ()), path),
        is_validation=_field(records, "isValidation", path, ()) > 0,
        images=_names(records, "img_paths", path),
        visibility_known=True,
        source=str(path),
        image_sizes=_image_sizes(records),
    )


def _parse_common(records: list[dict], path: Path, validation: bool) -> MpiiAnnotations:
    raw = _field(records, "joints", path, (NUM_MPII_JOINTS, 2))
    annotated = _field(records, "joints_vis", path, (NUM_MPII_JOINTS,)) > 0
    joints = np.where(annotated[..., None], raw - 1, 0).astype(np.float32)
    return MpiiAnnotations(
        joints=joints,
        annotated=annotated,
        visible=annotated.copy(),
        center=_field(records, "center", path, (2,)) - 1,
        scale=_scales(_field(records, "scale", path, ()), path),
        is_validation=np.full(len(records), bool(validation)),
        images=_names(records, "image", path),
        visibility_known=False,
        source=str(path),
    )


def _image_sizes(records: list[dict]) -> np.ndarray | None:
    """``img_width``/``img_height`` of every record, or None if any record lacks them."""
    try:
        return np.array([[float(r["img_width"]), float(r["img_height"])] for r in records], dtype=np.float32)
    except (KeyError, TypeError, ValueError):
        return None


def _scales(scale: np.ndarray, path: Path) -> np.ndarray:
    bad = np.flatnonzero(~(scale > 0))
    if len(bad):
        raise DataFileError(path, f"records {bad[:5].tolist()} have a non-positive person scale", JSON_FIX)
    return scale


def read_gt_mat(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The official validation ground truth: ``(joints N×16×2, missing N×16 bool, headboxes N×2×2)``.

    Read by :func:`lib.data.formats.load_mpii_gt` (one reader for the file). Coordinates are returned
    1-based as stored (the official evaluation compares them with 1-based predictions);
    :func:`attach_headboxes` converts them.
    """
    gt = load_mpii_gt(path)
    return gt.joints.astype(np.float32), ~gt.annotated, gt.headboxes.astype(np.float32)


def attach_headboxes(ann: MpiiAnnotations, gt_mat: str | Path) -> MpiiAnnotations:
    """Attach the official head boxes to ``ann``'s validation people, by order.

    The ``.mat`` has no image names, so the match is checked instead: the number of validation
    people and their missing-joint pattern must agree exactly, and annotated joints must agree to
    within 1 px (the ``.mat`` zeroes a coordinate of 13 joints that the json keeps, so exact
    zeros are skipped). Any disagreement raises :class:`~lib.errors.DataFileError` naming the
    ``.mat``: head boxes attached to the wrong people would silently corrupt PCKh.
    """
    gt_joints, missing, boxes = read_gt_mat(gt_mat)
    rows = np.flatnonzero(ann.is_validation)
    fix = (f"use the annotation file that matches it (the full {MPII_VAL_SIZE}-person validation set) "
           "or no ground truth .mat")
    if len(rows) != len(boxes):
        raise DataFileError(gt_mat, f"describes {len(boxes)} validation people but {ann.source} has {len(rows)}; "
                                    "head boxes attach by order", fix)
    if (missing != ~ann.annotated[rows]).any():
        bad = np.flatnonzero((missing != ~ann.annotated[rows]).any(1))
        raise DataFileError(gt_mat, f"disagrees with {ann.source} on which joints are annotated "
                                    f"(validation people {bad[:5].tolist()}...)", fix)
    mine = ann.joints[rows] + 1
    compare = ann.annotated[rows][..., None] & (gt_joints != 0)
    err = np.abs(np.where(compare, mine - gt_joints, 0)).max(initial=0.0)
    if err > 1.0:
        raise DataFileError(gt_mat, f"disagrees with {ann.source} on validation joints by up to {err:.1f} px "
                                    "(different people or order)", fix)
    headboxes = np.full((len(ann), 2, 2), np.nan, dtype=np.float32)
    headboxes[rows] = boxes - 1
    ann.headboxes = headboxes
    return ann


def head_sizes(ann: MpiiAnnotations) -> np.ndarray:
    """PCKh normaliser per person, in image pixels (``N`` float32).

    The official head size (0.6 × head-box diagonal) where a head box is known (validation),
    else 0.75 × |head top − upper neck| (see :data:`HEAD_SEGMENT_FACTOR`; identical to the
    official size on validation, so only train people, which have no boxes, use it). A person
    without head box, head top or upper neck falls back to the median head-size-to-scale ratio
    of the others times its scale.
    """
    seg = np.linalg.norm(ann.joints[:, _HEAD_TOP] - ann.joints[:, _UPPER_NECK], axis=1) * HEAD_SEGMENT_FACTOR
    size = np.where(ann.annotated[:, _HEAD_TOP] & ann.annotated[:, _UPPER_NECK] & (seg > 0), seg, np.nan)
    if ann.headboxes is not None:
        diag = np.linalg.norm(ann.headboxes[:, 1] - ann.headboxes[:, 0], axis=1) * HEAD_BOX_FACTOR
        size = np.where(np.isfinite(diag), diag, size)
    known = np.isfinite(size)
    if not known.all():
        ratio = np.median(size[known] / ann.scale[known]) if known.any() else 200 / 8 * HEAD_SEGMENT_FACTOR
        size = np.where(known, size, ratio * ann.scale)
    return size.astype(np.float32)


def split_annotations(folder: str | Path, split: str) -> MpiiAnnotations:
    """The ``split`` people of an MPII folder, with official head boxes when available.

    Reads ``mpii_annotations.json.gz`` (or ``.json``) if present, else ``train.json`` /
    ``valid.json``; attaches ``detections_our_format.mat``'s head boxes to validation people
    when that file is present (train people never need it).
    """
    folder = Path(folder)
    files = annotation_files(folder, split)
    annotations, gt = files[0], (files[1] if len(files) > 1 else None)
    if annotations.name.startswith("mpii_annotations"):
        return read_mpii(annotations, gt).split(split)
    return read_mpii(annotations, gt, validation=split == "val")


def annotation_files(folder: str | Path, split: str) -> list[Path]:
    """The files :func:`split_annotations` reads for ``split``: the annotations, then the official
    ground truth when it is used (validation people, or the full layout holding them).

    ``mpii_annotations.json.gz`` (or ``.json``) if present, else ``train.json`` / ``valid.json``;
    ``FileNotFoundError`` when none is there. Packs record these files as their sources.
    """
    folder = Path(folder)
    if split not in ("train", "val"):
        raise ValueError(f"unknown MPII split {split!r}; choose 'train' or 'val'")
    gt = folder / "detections_our_format.mat"
    gt_used = [gt] if gt.is_file() else []
    for name in ("mpii_annotations.json.gz", "mpii_annotations.json"):
        if (folder / name).is_file():
            return [folder / name, *gt_used]
    name = "train.json" if split == "train" else "valid.json"
    if (folder / name).is_file():
        return [folder / name, *(gt_used if split == "val" else [])]
    raise FileNotFoundError(
        f"no MPII annotations in {folder}: expected mpii_annotations.json.gz (all people) or {name}"
    )
