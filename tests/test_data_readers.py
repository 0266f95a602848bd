"""Annotation readers: data root, MPII (both json layouts, official .mat) and LSP (both layouts)."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from lib.data import lsp, mpii
from lib.data.paths import data_root
from lib.errors import DataFileError

REAL = Path(os.environ.get("POSE_DATA", "/nonexistent"))
needs_real = pytest.mark.skipif(not (REAL / "mpii").is_dir() or not (REAL / "lspet").is_dir(),
                                reason="needs the real datasets: set POSE_DATA (e.g. POSE_DATA=/work/shared/data)")
realdata = [pytest.mark.realdata, needs_real]


# ----------------------------------------------------------------------------- paths


def test_data_root_explicit_env_and_errors(tmp_path, monkeypatch):
    assert data_root(tmp_path) == tmp_path
    monkeypatch.setenv("POSE_DATA", str(tmp_path))
    assert data_root() == tmp_path
    monkeypatch.delenv("POSE_DATA")
    with pytest.raises(FileNotFoundError, match="POSE_DATA.*expected layout"):
        data_root()
    with pytest.raises(FileNotFoundError, match="not a folder"):
        data_root(tmp_path / "missing")


# ----------------------------------------------------------------------------- MPII


def _joints16(offset: float) -> list[list[float]]:
    return [[10.0 + offset + j, 20.0 + 2 * j] for j in range(16)]


def full_records() -> list[dict]:
    """Three people in the full layout: two train, one validation (joint 3 missing, joint 4 hidden)."""
    out = []
    for i, val in enumerate([0, 0, 1]):
        js = [[x, y, 1.0] for x, y in _joints16(10 * i)]
        if val:
            js[3] = [0.0, 0.0, 0.0]
            js[4][2] = 0.0
        out.append({"img_paths": f"img{i}.jpg", "isValidation": float(val), "joint_self": js,
                    "objpos": [50.0 + i, 60.0], "scale_provided": 1.5, "img_width": 200.0, "img_height": 100.0})
    return out


def common_records() -> list[dict]:
    js = _joints16(20)
    js[3] = [-1.0, -1.0]
    vis = [1] * 16
    vis[3] = 0
    return [{"image": "img2.jpg", "center": [52.0, 60.0], "scale": 1.5, "joints": js, "joints_vis": vis}]


def write_gt(path: Path, joints_1based: np.ndarray, missing: np.ndarray, boxes: np.ndarray) -> Path:
    scipy.io.savemat(path, {"pos_gt_src": joints_1based.transpose(1, 2, 0), "jnt_missing": missing.T.astype(np.uint8),
                            "headboxes_src": boxes.transpose(1, 2, 0)})
    return path


def test_read_mpii_full_layout_gz(tmp_path):
    path = tmp_path / "mpii_annotations.json.gz"
    with gzip.open(path, "wt") as f:
        json.dump(full_records(), f)
    ann = mpii.read_mpii(path)
    assert len(ann) == 3 and ann.visibility_known
    assert ann.is_validation.tolist() == [False, False, True]
    np.testing.assert_allclose(ann.joints[0, 5], [10 + 5 - 1, 20 + 10 - 1])  # 1-based -> 0-based
    np.testing.assert_allclose(ann.center[1], [50, 59])
    assert not ann.annotated[2, 3] and ann.joints[2, 3].tolist() == [0, 0]
    assert ann.annotated[2, 4] and not ann.visible[2, 4]  # annotated but hidden: kept distinct
    assert ann.image_sizes is not None and ann.image_sizes[0].tolist() == [200, 100]
    assert len(ann.split("train")) == 2 and ann.split("val").images == ["img2.jpg"]


def test_read_mpii_common_layout_has_no_visibility(tmp_path):
    path = tmp_path / "valid.json"
    path.write_text(json.dumps(common_records()))
    ann = mpii.read_mpii(path)
    assert not ann.visibility_known and ann.is_validation.all()
    assert not ann.annotated[0, 3] and (ann.visible == ann.annotated).all()
    assert mpii.read_mpii(path, validation=False).is_validation.tolist() == [False]
    train = tmp_path / "train.json"
    train.write_text(json.dumps(common_records()))
    assert not mpii.read_mpii(train).is_validation.any()


def test_headboxes_attach_by_order_and_mismatch_errors(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps(full_records()))
    ann = mpii.read_mpii(path)
    val = ann.split("val")
    box = np.array([[[20.0, 30.0], [50.0, 70.0]]], dtype=np.float32)  # 1-based, diagonal 50
    gt = write_gt(tmp_path / "gt.mat", val.joints + 1, ~val.annotated, box)
    with_boxes = mpii.read_mpii(path, gt)
    assert np.isnan(with_boxes.headboxes[:2]).all()
    np.testing.assert_allclose(with_boxes.headboxes[2], box[0] - 1)
    sizes = mpii.head_sizes(with_boxes)
    assert sizes[2] == pytest.approx(0.6 * 50)  # official: 0.6 × head-box diagonal
    seg = np.linalg.norm(ann.joints[0, 9] - ann.joints[0, 8])
    assert sizes[0] == pytest.approx(0.75 * seg)  # train: head segment approximation

    wrong_joints = write_gt(tmp_path / "w.mat", val.joints + 30, ~val.annotated, box)
    with pytest.raises(DataFileError, match="w.mat: disagrees with .*a.json on validation joints"):
        mpii.read_mpii(path, wrong_joints)
    wrong_missing = write_gt(tmp_path / "m.mat", val.joints + 1, np.zeros_like(val.annotated), box)
    with pytest.raises(DataFileError, match="m.mat: disagrees with .* on which joints"):
        mpii.read_mpii(path, wrong_missing)
    two = write_gt(tmp_path / "two.mat", np.repeat(val.joints + 1, 2, 0), np.repeat(~val.annotated, 2, 0), np.repeat(box, 2, 0))
    with pytest.raises(DataFileError, match="two.mat: describes 2 validation people but .* has 1"):
        mpii.read_mpii(path, two)
    bad = tmp_path / "bad.mat"
    scipy.io.savemat(bad, {"something": np.zeros(3)})
    with pytest.raises(DataFileError, match=r"bad.mat: lacks \[.pos_gt_src"):
        mpii.read_mpii(path, bad)


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid json"),
    ("[]", "not a non-empty list of person records"),
    ('[{"foo": 1}]', "unknown MPII layout"),
    ('[{"joints": [[1, 2]], "joints_vis": [1], "center": [1, 2], "scale": 1, "image": "a.jpg"}]', r"record 0 'joints' should have shape \(16, 2\)"),
    ('[{"joints": ' + json.dumps(_joints16(0)) + ', "joints_vis": [1], "center": [1, 2], "scale": 1, "image": "a.jpg"}]', "joints_vis"),
    ('[{"joints": ' + json.dumps(_joints16(0)) + ', "joints_vis": ' + json.dumps([1] * 16) + ', "center": [1, 2], "scale": 0, "image": "a.jpg"}]', "non-positive person scale"),
])
def test_read_mpii_malformed(tmp_path, content, message):
    path = tmp_path / "valid.json"
    path.write_text(content)
    with pytest.raises(DataFileError, match=f"valid.json: .*{message}"):
        mpii.read_mpii(path)


def test_read_mpii_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        mpii.read_mpii(tmp_path / "nope.json")
    with pytest.raises(FileNotFoundError, match="no MPII annotations"):
        mpii.split_annotations(tmp_path, "train")


@pytest.fixture(scope="module")
def real_mpii() -> mpii.MpiiAnnotations:
    return mpii.read_mpii(REAL / "mpii" / "mpii_annotations.json.gz", REAL / "mpii" / "detections_our_format.mat")


@pytest.mark.slow
@pytest.mark.realdata
@needs_real
def test_real_mpii_split_sizes_and_headboxes(real_mpii):
    assert len(real_mpii) == mpii.MPII_TRAIN_SIZE + mpii.MPII_VAL_SIZE
    assert real_mpii.is_validation.sum() == mpii.MPII_VAL_SIZE
    val, train = real_mpii.split("val"), real_mpii.split("train")
    assert np.isfinite(val.headboxes).all() and np.isnan(train.headboxes).all()
    assert real_mpii.visible.sum() < real_mpii.annotated.sum()  # MPII's visibility flag is kept
    assert not (real_mpii.visible & ~real_mpii.annotated).any()
    # the head-segment approximation equals the official head size for nearly all validation people
    both = val.annotated[:, 9] & val.annotated[:, 8]
    approx = 0.75 * np.linalg.norm(val.joints[:, 9] - val.joints[:, 8], axis=1)
    ratio = mpii.head_sizes(val)[both] / approx[both]
    assert np.median(np.abs(ratio - 1)) < 1e-4 and np.mean(np.abs(ratio - 1) < 0.01) > 0.98
    assert (mpii.head_sizes(train) > 0).all()
    # the shared image folder holds 31 photos with 39 train and 7 validation people
    have = np.array([(REAL / "mpii" / "images" / n).is_file() for n in real_mpii.images])
    assert have.sum() == 46 and (have & real_mpii.is_validation).sum() == 7


@pytest.mark.slow
@pytest.mark.realdata
@needs_real
def test_real_mpii_valid_json_matches_full_layout(real_mpii):
    common = mpii.read_mpii(REAL / "mpii" / "valid.json", REAL / "mpii" / "detections_our_format.mat")
    val = real_mpii.split("val")
    assert common.images == val.images and (common.annotated == val.annotated).all()
    np.testing.assert_allclose(common.joints, val.joints, atol=1e-3)
    np.testing.assert_allclose(common.headboxes, val.headboxes)
    sample = mpii.read_mpii(REAL / "mpii" / "mmpose_sample" / "test_mpii.json")
    assert len(sample) == 5 and all((REAL / "mpii" / "mmpose_sample" / n).is_file() for n in sample.images)


# ----------------------------------------------------------------------------- LSP


def lsp_joints(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n×14×3`` (x, y, flag) with plausible 1-based coordinates."""
    xy = rng.uniform(20, 80, (n, 14, 2))
    return np.concatenate([xy, np.ones((n, 14, 1))], -1)


def test_read_lsp_extended_layout(tmp_path):
    j = lsp_joints(3, np.random.default_rng(0))
    j[1, 4] = [0.0, -26.0, 0.0]  # LSP Extended: unflagged joints carry garbage positions
    path = tmp_path / "joints.mat"
    scipy.io.savemat(path, {"joints": j.transpose(1, 2, 0)})  # 14×3×N
    ann = lsp.read_lsp(path)
    assert len(ann) == 3 and ann.images == ["im00001.jpg", "im00002.jpg", "im00003.jpg"]
    assert not ann.annotated[1, 4] and not ann.visible[1, 4] and ann.joints[1, 4].tolist() == [0, 0]
    np.testing.assert_allclose(ann.joints[0, 0], j[0, 0, :2] - 1, rtol=1e-6)


def test_read_lsp_original_layout_reads_occlusion(tmp_path):
    j = lsp_joints(2, np.random.default_rng(1))
    j[:, :, 2] = 0
    j[0, 7, 2] = 1  # original LSP: 1 = occluded
    path = tmp_path / "joints.mat"
    scipy.io.savemat(path, {"joints": j.transpose(2, 1, 0)})  # 3×14×N
    ann = lsp.read_lsp(path)
    assert ann.annotated.all() and ann.images[0] == "im0001.jpg"
    assert not ann.visible[0, 7] and ann.visible.sum() == 2 * 14 - 1
    assert lsp.read_lsp(path, third_row="visible").visible.sum() == 1


@pytest.mark.parametrize("array, message", [
    (np.zeros((14, 2, 5)), r"shape \(14, 2, 5\)"),
    (np.zeros((13, 3, 5)), r"shape \(13, 3, 5\)"),
    (np.full((14, 3, 2), np.nan), "NaN"),
])
def test_read_lsp_malformed(tmp_path, array, message):
    path = tmp_path / "joints.mat"
    scipy.io.savemat(path, {"joints": array})
    with pytest.raises(DataFileError, match=f"joints.mat: .*{message}"):
        lsp.read_lsp(path)


def test_read_lsp_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        lsp.read_lsp(tmp_path / "joints.mat")
    (tmp_path / "joints.mat").write_bytes(b"not a mat file")
    with pytest.raises(DataFileError, match="joints.mat: is not a readable MATLAB .mat file"):
        lsp.read_lsp(tmp_path / "joints.mat")
    scipy.io.savemat(tmp_path / "other.mat", {"pts": np.zeros(3)})
    with pytest.raises(DataFileError, match="other.mat: has no variable 'joints'"):
        lsp.read_lsp(tmp_path / "other.mat")


def test_person_boxes_and_torso_fallbacks():
    joints = np.zeros((3, 14, 2), np.float32)
    annotated = np.ones((3, 14), bool)
    for i in range(3):
        joints[i, :, 0] = np.linspace(0, 40, 14)
        joints[i, :, 1] = np.linspace(0, 100, 14)
    ann = lsp.LspAnnotations(joints, annotated.copy(), annotated, ["a", "b", "c"])
    ann.annotated[1, 9] = False  # no left shoulder: the other diagonal
    ann.annotated[2, [8, 9]] = False  # no shoulders: median torso/box ratio
    centers, sides = lsp.person_boxes(ann)
    np.testing.assert_allclose(centers[0], [20, 50])
    assert sides[0] == pytest.approx(125)
    torso, rule = lsp.torso_sizes(ann, sides)
    assert rule.tolist() == [0, 1, 2]
    assert torso[0] == pytest.approx(np.linalg.norm(joints[0, 9] - joints[0, 2]))  # l shoulder, r hip
    assert torso[1] == pytest.approx(np.linalg.norm(joints[1, 8] - joints[1, 3]))
    assert torso[2] == pytest.approx(torso[0] / sides[0] * sides[2])
    ann.annotated[0] = False
    ann.annotated[0, 0] = True
    with pytest.raises(DataFileError, match="fewer than two distinct annotated joints"):
        lsp.person_boxes(ann)


@pytest.mark.realdata
@needs_real
def test_real_lspet():
    ann = lsp.read_lsp(REAL / "lspet" / "joints.mat")
    assert len(ann) == 10_000 and (ann.visible == ann.annotated).all()
    assert ann.annotated.sum(1).min() >= 4
    val, train = lsp.lspet_split(ann, "val"), lsp.lspet_split(ann, "train")
    assert len(val) == 1000 and len(train) == 9000 and val.images[0] == "im09001.jpg"
    centers, sides = lsp.person_boxes(ann)
    assert 120 < np.median(sides) < 200  # people "scaled to about 150 px", ×1.25
    torso, rule = lsp.torso_sizes(ann, sides)
    assert (torso > 0).all() and np.bincount(rule).tolist() == [7179, 1116, 1705]


def test_require_file_names_the_missing_file(tmp_path):
    from lib.data.paths import require_file

    (tmp_path / "a.mat").write_bytes(b"")
    assert require_file(tmp_path / "a.mat", "x") == tmp_path / "a.mat"
    with pytest.raises(FileNotFoundError, match="LSP joints not found at .*b.mat; expected layout"):
        require_file(tmp_path / "b.mat", "LSP joints")
