"""Tests of lib.metrics on cases worked by hand, the file readers (lib.data.formats), the command line and the real file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from lib import metrics
from lib.joints import KPTRANSFER_SPLITS, LSP_TO_MPII, idx
from lib.data.formats import load_mpii_gt, load_predictions
from lib.metrics import (
    evaluate_mpii,
    head_size,
    pck_curve,
    pck_hits,
    pck_table,
    per_joint,
    torso_size,
    visibility_tables,
)

REPO = Path(__file__).resolve().parents[1]
POSE_DATA = os.environ.get("POSE_DATA")
MPII_GT = Path(POSE_DATA or "/nonexistent") / "mpii" / "detections_our_format.mat"
needs_gt = pytest.mark.skipif(
    not MPII_GT.is_file(), reason="needs POSE_DATA with mpii/detections_our_format.mat (set POSE_DATA=/path/to/data)"
)


def test_head_size_is_0_6_diagonal():
    boxes = np.array([[[0.0, 0.0], [30.0, 40.0]], [[10.0, 10.0], [4.0, 2.0]]])
    assert head_size(boxes).tolist() == pytest.approx([30.0, 6.0])
    with pytest.raises(ValueError, match="N×2×2"):
        head_size(np.zeros((3, 4)))


def _two_people() -> tuple[np.ndarray, ...]:
    """2 people, 3 joints (upper neck, head top, thorax); worked by hand in the tests below.

    person 0, norm 10 (threshold 5 px): errors 3 (hit), exactly 5 (miss: strict), 0 (hit)
    person 1, norm 20 (threshold 10 px): errors 9.9 (hit), head top unannotated, 12 (miss)
    """
    gt = np.array([[[10.0, 10.0], [20.0, 20.0], [30.0, 30.0]], [[50.0, 50.0], [0.0, 0.0], [70.0, 70.0]]])
    pred = gt + np.array([[[3.0, 0.0], [3.0, 4.0], [0.0, 0.0]], [[0.0, 9.9], [500.0, 500.0], [12.0, 0.0]]])
    annotated = np.array([[True, True, True], [True, False, True]])
    return pred, gt, annotated, np.array([10.0, 20.0])


def test_hits_boundary_and_missing_joints():
    hits, evaluated = pck_hits(*_two_people(), threshold=0.5)
    assert hits.tolist() == [[True, False, True], [True, False, False]]
    assert evaluated.tolist() == [[True, True, True], [True, False, True]]
    assert per_joint(hits, evaluated).tolist() == [100.0, 0.0, 50.0]


def test_table_pools_columns_and_excludes_thorax_from_mean():
    hits, evaluated = pck_hits(*_two_people(), threshold=0.5)
    table = pck_table(hits, evaluated, joint_ids=idx("upper_neck", "head_top", "thorax"))
    # Head pools 2 hits of 3 evaluated (the plain mean of 100 and 0 would be 50); thorax is out of
    # the Mean; no hard joint, no Hard
    assert table == pytest.approx({"Head": 200 / 3, "Mean": 200 / 3})


def test_table_sixteen_joints_by_hand():
    hits = np.zeros((2, 16), bool)
    evaluated = np.ones((2, 16), bool)
    r_ank, l_ank, pelvis, thorax, neck, top = idx("r_ankle", "l_ankle", "pelvis", "thorax", "upper_neck", "head_top")
    evaluated[1, r_ank] = False
    hits[0, [r_ank, l_ank, neck, top]] = True
    hits[1, [top, pelvis, thorax]] = True
    hits[1, r_ank] = True  # not evaluated: must not count
    t = pck_table(hits, evaluated, range(16))
    assert list(t) == ["Head", "Sho.", "Elb.", "Wri.", "Hip", "Knee", "Ank.", "Mean", "Hard"]
    assert t["Ank."] == pytest.approx(200 / 3)  # r 1/1, l 1/2: pooled 2/3 (plain mean 75)
    assert t["Head"] == pytest.approx(75.0)  # neck 1/2, top 2/2
    assert t["Sho."] == t["Knee"] == 0.0
    assert t["Mean"] == pytest.approx(100 * 5 / 27)  # 14 joints × 2 - 1 missing; pelvis/thorax hits ignored
    assert t["Hard"] == pytest.approx(100 * 2 / 19)  # 10 hard joints × 2 - 1 missing


def test_table_for_subsets_and_bad_ids():
    hits = np.ones((3, 8), bool)
    s2 = KPTRANSFER_SPLITS["a"][1]  # knees, ankles, wrists, elbows
    assert list(pck_table(hits, hits, s2)) == ["Elb.", "Wri.", "Knee", "Ank.", "Mean", "Hard"]
    lsp = pck_table(np.ones((2, 14), bool), np.ones((2, 14), bool), LSP_TO_MPII)
    assert list(lsp) == ["Head", "Sho.", "Elb.", "Wri.", "Hip", "Knee", "Ank.", "Mean", "Hard"]
    with pytest.raises(ValueError, match="8 joint ids for 3 joints"):
        pck_table(np.ones((2, 3), bool), np.ones((2, 3), bool), s2)


def test_visibility_tables_and_nan_for_empty_columns():
    hits = np.array([[True, True, False, True]])
    evaluated = np.ones((1, 4), bool)
    visible = np.array([[True, True, True, False]])
    ids = idx("head_top", "r_knee", "l_knee", "r_ankle")
    t = visibility_tables(hits, evaluated, visible, ids)
    assert t["all"]["Knee"] == 50.0 and t["all"]["Mean"] == 75.0
    assert t["visible"]["Knee"] == 50.0 and np.isnan(t["visible"]["Ank."])
    assert np.isnan(t["invisible"]["Head"]) and t["invisible"]["Ank."] == 100.0 and t["invisible"]["Mean"] == 100.0


def test_torso_pck_at_0_2():
    lsp = LSP_TO_MPII  # l_shoulder is LSP joint 9, r_hip LSP joint 2
    gt = np.zeros((2, 14, 2))
    gt[:, 2] = [30.0, 40.0]  # r_hip; l_shoulder at the origin: torso 50, threshold 10 px
    assert torso_size(gt, lsp).tolist() == [50.0, 50.0]
    pred = gt.copy()
    pred[0, 0] += [0.0, 9.99]  # hit
    pred[1, 0] += [6.0, 8.0]  # exactly 10: miss
    annotated = np.ones((2, 14), bool)
    hits, evaluated = pck_hits(pred, gt, annotated, torso_size(gt, lsp), metrics.PCK_THRESHOLD)
    assert hits[:, 0].tolist() == [True, False] and hits[:, 1:].all()
    annotated[1, 9] = False  # person 1 has no left shoulder: no torso, not evaluated
    norm = torso_size(gt, lsp, annotated)
    assert np.isnan(norm[1])
    hits, evaluated = pck_hits(pred, gt, annotated, norm, 0.2)
    assert evaluated.sum(1).tolist() == [14, 0]
    with pytest.raises(ValueError, match="needs \\['l_shoulder'\\]"):
        torso_size(gt[:, :3], idx("r_ankle", "r_knee", "r_hip"))


def test_hits_shape_and_norm_errors():
    pred, gt, annotated, norm = _two_people()
    with pytest.raises(ValueError, match="pred must have shape"):
        pck_hits(pred[:1], gt, annotated, norm, 0.5)
    with pytest.raises(ValueError, match="norm must be positive"):
        pck_hits(pred, gt, annotated, np.array([10.0, 0.0]), 0.5)
    pred[0, 0] = np.nan  # a missing prediction is wrong, not skipped
    hits, evaluated = pck_hits(pred, gt, annotated, norm, 0.5)
    assert not hits[0, 0] and evaluated[0, 0]


def test_curve_monotone_and_matches_table():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 100, (50, 16, 2))
    pred = gt + rng.normal(0, 4, gt.shape)
    annotated = rng.random((50, 16)) > 0.1
    norm = np.full(50, 10.0)
    curve = pck_curve(pred, gt, annotated, norm)
    assert curve.shape == (51,) and curve[0] == 0.0
    assert np.all(np.diff(curve) >= 0) and curve[-1] > curve[10] > 0
    assert curve[50] == pytest.approx(pck_table(*pck_hits(pred, gt, annotated, norm, 0.5), range(16))["Mean"])
    ankle = pck_curve(pred, gt, annotated, norm, [0.5], column="Ank.")
    assert ankle[0] == pytest.approx(pck_table(*pck_hits(pred, gt, annotated, norm, 0.5), range(16))["Ank."])
    with pytest.raises(ValueError, match="column 'Nose'"):
        pck_curve(pred, gt, annotated, norm, [0.5], column="Nose")


def _tiny_gt(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """3 people, all joints annotated but person 0's left wrist; head boxes 30×40 (head size 30)."""
    rng = np.random.default_rng(1)
    pos = rng.uniform(100, 500, (16, 2, 3))
    boxes = np.zeros((2, 2, 3))
    boxes[1] = [[30.0] * 3, [40.0] * 3]
    missing = np.zeros((16, 3), np.uint8)
    missing[15, 0] = 1
    path = tmp_path / "gt.mat"
    savemat(path, {"pos_gt_src": pos, "headboxes_src": boxes, "jnt_missing": missing})
    return path, pos


def test_load_mpii_gt_layout(tmp_path):
    path, pos = _tiny_gt(tmp_path)
    gt = load_mpii_gt(path)
    assert len(gt) == 3 and gt.joints.shape == (3, 16, 2) and gt.visible is None
    assert np.array_equal(gt.joints[2, 5], pos[5, :, 2])
    assert gt.norm.tolist() == [30.0, 30.0, 30.0]
    assert gt.annotated.sum() == 47 and not gt.annotated[0, 15]
    bad = {"pos_gt_src": pos, "headboxes_src": np.zeros((2, 2, 4)), "jnt_missing": np.zeros((16, 3))}
    savemat(tmp_path / "bad.mat", bad)
    with pytest.raises(ValueError, match=r"headboxes_src has shape \(2, 2, 4\), expected \(2, 2, 3\)"):
        load_mpii_gt(tmp_path / "bad.mat")
    savemat(tmp_path / "other.mat", {"preds": pos})
    with pytest.raises(ValueError, match=r"lacks \['pos_gt_src', .*'jnt_missing'\] \(found \['preds'\]\)"):
        load_mpii_gt(tmp_path / "other.mat")


def test_load_predictions_layouts_and_errors(tmp_path):
    preds = np.arange(3 * 16 * 2, dtype=float).reshape(3, 16, 2)
    savemat(tmp_path / "a.mat", {"preds": preds})
    savemat(tmp_path / "b.mat", {"preds": preds.transpose(1, 2, 0)})
    np.save(tmp_path / "c.npy", preds)
    for name in ("a.mat", "b.mat", "c.npy"):
        assert np.array_equal(load_predictions(tmp_path / name), preds)
    np.save(tmp_path / "d.npy", np.zeros((3, 16, 3)))
    with pytest.raises(ValueError, match=r"shape \(3, 16, 3\), expected N×16×2 or 16×2×N"):
        load_predictions(tmp_path / "d.npy")
    savemat(tmp_path / "e.mat", {"pred": preds})
    with pytest.raises(ValueError, match=r"no 'preds' entry \(found \['pred'\]\)"):
        load_predictions(tmp_path / "e.mat")
    with pytest.raises(ValueError, match="must be a .npy or .mat"):
        load_predictions(tmp_path / "f.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_predictions(tmp_path / "g.mat")


def test_evaluate_mpii_by_hand(tmp_path):
    path, pos = _tiny_gt(tmp_path)
    gt = load_mpii_gt(path)
    preds = gt.joints.copy()
    preds[0] += [0.0, 14.0]  # person 0: 14 px < 15 px (0.5 × 30): correct at 0.5, wrong at 0.1 (3 px)
    preds[2] += [100.0, 0.0]  # person 2: all wrong
    t = evaluate_mpii(preds, gt)
    assert t["Mean"] == pytest.approx(100 * 27 / 41)  # 14 joints × 3 - 1 missing; person 2 misses 14
    assert t["Wri."] == pytest.approx(100 * 3 / 5)
    assert t["Mean@0.1"] == pytest.approx(100 * 14 / 41)  # only person 1
    with pytest.raises(ValueError, match="one prediction per validation person"):
        evaluate_mpii(preds[:2], gt)


def test_command_line_on_tiny_files(tmp_path, capsys):
    path, pos = _tiny_gt(tmp_path)
    preds = pos.copy()
    preds[:, :, 2] += 100.0  # person 2 wrong: every joint 2/3, left wrist 1/2
    savemat(tmp_path / "p.mat", {"preds": preds})
    assert metrics.main(["pckh", str(tmp_path / "p.mat"), "--gt", str(path), "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[1].split() == ["Head", "Sho.", "Elb.", "Wri.", "Hip", "Knee", "Ank.", "Mean", "Mean@0.1", "Hard"]
    assert lines[2].split()[:4] == ["66.7", "66.7", "66.7", "60.0"]
    record = json.loads(lines[-1])
    assert record["mean"] == pytest.approx(100 * 27 / 41) and record["joints"]["l_wrist"] == 50.0
    assert record["people"] == 3 and record["columns"]["Wri."] == pytest.approx(60.0)
    savemat(tmp_path / "short.mat", {"preds": preds[:, :, :2]})
    assert metrics.main(["pckh", str(tmp_path / "short.mat"), "--gt", str(path)]) == 2
    assert "one prediction per validation person" in capsys.readouterr().err


@pytest.mark.slow
def test_module_entry_point(tmp_path):
    path, pos = _tiny_gt(tmp_path)
    np.save(tmp_path / "p.npy", pos.transpose(2, 0, 1))
    run = subprocess.run(
        [sys.executable, "-m", "lib.metrics", "pckh", str(tmp_path / "p.npy"), "--gt", str(path), "--threshold", "0.1",
         "--json"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )
    assert run.stdout.splitlines()[0].startswith("PCKh@0.1 of p.npy on 3 people")
    assert json.loads(run.stdout.splitlines()[-1])["mean"] == 100.0


@pytest.mark.realdata
@needs_gt
def test_real_ground_truth_and_published_predictions(tmp_path, capsys):
    gt = load_mpii_gt(MPII_GT)
    assert len(gt) == 2958
    np.save(tmp_path / "gt.npy", gt.joints)
    assert metrics.main(["pckh", str(tmp_path / "gt.npy"), "--gt", str(MPII_GT), "--json"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(record["columns"].values()) == {100.0}
    # the file's own pos_pred_src (Tompson et al.'s predictions): 82.34 with HRNet's formula too
    from scipy.io import loadmat

    published = loadmat(str(MPII_GT))["pos_pred_src"].transpose(2, 0, 1)
    t = evaluate_mpii(published, gt)
    assert t["Mean"] == pytest.approx(82.3367, abs=1e-3)
    assert t["Head"] == pytest.approx(96.658, abs=1e-3) and t["Ank."] == pytest.approx(65.446, abs=1e-3)
