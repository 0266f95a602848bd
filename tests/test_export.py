"""lib.export: MPII and LSP prediction files, round-tripped through lib.metrics and an independent recomputation."""

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.io import loadmat, savemat

from lib import export, metrics
from lib.data import formats
from lib.data.poseset import PoseSet
from lib.joints import LSP_JOINTS, LSP_TO_MPII

DATA = Path(os.environ.get("POSE_DATA", "/nonexistent"))
MPII_GT = DATA / "mpii" / "detections_our_format.mat"
needs_mpii = pytest.mark.skipif(not (MPII_GT.is_file() and (DATA / "mpii" / "images").is_dir()),
                                reason="needs POSE_DATA with mpii/detections_our_format.mat and mpii/images")
needs_lsp = pytest.mark.skipif(not (DATA / "lspet" / "joints.mat").is_file(),
                               reason="needs POSE_DATA with lspet/joints.mat and lspet/images")


def plain_pckh(preds: np.ndarray, gt_file: Path, rows: np.ndarray | None = None) -> np.ndarray:
    """Per-joint PCKh@0.5 (%), written from the official evaluation's definition with numpy alone."""
    mat = loadmat(str(gt_file))
    pos = mat["pos_gt_src"].transpose(2, 0, 1)          # N×16×2
    boxes = mat["headboxes_src"].transpose(2, 0, 1)     # N×2×2
    missing = mat["jnt_missing"].T.astype(bool)         # N×16
    if rows is not None:
        pos, boxes, missing = pos[rows], boxes[rows], missing[rows]
    head = 0.6 * np.sqrt(((boxes[:, 1] - boxes[:, 0]) ** 2).sum(-1))
    dist = np.sqrt(((preds - pos) ** 2).sum(-1)) / head[:, None]
    ok = (dist < 0.5) & ~missing
    return 100.0 * ok.sum(0) / (~missing).sum(0)


def mpii_people(data_root: Path, cache: Path) -> PoseSet:
    from lib.data import load_poseset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the people whose photos are not here are dropped, with a warning
        return load_poseset("mpii", "val", data_root=data_root, resolution=64, cache_dir=cache, require_images=False)


def noisy(gt: np.ndarray, scale: np.ndarray, seed: int = 0) -> np.ndarray:
    """Predictions scattered about ``gt`` by about ``scale`` per person: some right, some wrong."""
    rng = np.random.default_rng(seed)
    return gt + rng.normal(size=gt.shape) * scale[:, None, None]


@pytest.mark.slow
@needs_mpii
def test_mpii_preds_round_trip_through_lib_metrics_and_plain_numpy(tmp_path):
    ps = mpii_people(DATA, tmp_path / "packs")
    assert 0 < len(ps) < 2958
    image_gt = export.image_joints(ps)
    head_px = ps.norm * ps.origin[:, 2]
    pred = noisy(image_gt, 0.3 * head_px)
    files = export.write_mpii(tmp_path / "preds.mat", pred, ps, MPII_GT)
    mat = loadmat(str(files["predictions"]))
    rows = mat["gt_rows"].ravel().astype(int) - 1
    assert mat["preds"].shape == (len(ps), 16, 2)
    # 1-based image pixels, MPII order, official row order: the predictions sit on the official ground truth
    official = loadmat(str(MPII_GT))["pos_gt_src"].transpose(2, 0, 1)[rows]
    order = np.argsort(export.match_gt_rows(image_gt + 1, ps.annotated, formats.load_mpii_gt(MPII_GT)))
    np.testing.assert_allclose(mat["preds"], pred[order] + 1)
    annotated = ps.annotated[order] & (official != 0).all(-1)
    assert np.abs(np.where(annotated[..., None], image_gt[order] + 1 - official, 0)).max() < 0.01

    independent = plain_pckh(mat["preds"], MPII_GT, rows)
    gt = formats.load_mpii_gt(files["ground_truth"])
    ours = metrics.per_joint(*metrics.pck_hits(formats.load_predictions(files["predictions"]), gt.joints,
                                               gt.annotated, gt.norm, 0.5))
    np.testing.assert_array_equal(ours, independent)
    assert 10 < np.nanmean(independent) < 90  # the scatter makes both right and wrong joints

    # the command line reads the same file and prints the same numbers
    assert metrics.main(["pckh", str(files["predictions"]), "--gt", str(files["ground_truth"]), "--json"]) == 0


@pytest.mark.slow
@needs_mpii
def test_mpii_command_line_reports_what_plain_numpy_computes(tmp_path, capsys):
    ps = mpii_people(DATA, tmp_path / "packs")
    pred = noisy(export.image_joints(ps), 0.3 * ps.norm * ps.origin[:, 2], seed=1)
    files = export.write_mpii(tmp_path / "p.mat", pred, ps, MPII_GT)
    capsys.readouterr()
    assert metrics.main(["pckh", str(files["predictions"]), "--gt", str(files["ground_truth"]), "--json"]) == 0
    reported = json.loads(capsys.readouterr().out.splitlines()[-1])["joints"]
    rows = loadmat(str(files["predictions"]))["gt_rows"].ravel().astype(int) - 1
    independent = plain_pckh(loadmat(str(files["predictions"]))["preds"], MPII_GT, rows)
    for value, name in zip(independent, reported):
        assert (reported[name] is None and np.isnan(value)) or reported[name] == pytest.approx(value, abs=1e-12)


@pytest.mark.slow
@needs_mpii
def test_a_trained_model_on_the_mpii_photos_writes_a_file_the_evaluation_reads(tmp_path, capsys):
    """``python -m lib.inference eval --data mpii --out``: its table and lib.metrics agree on the file."""
    import torch

    from lib import inference as I
    from lib.engine import RunOptions
    from lib.experiments import make_experiment
    from lib.runner import run_experiment

    torch.set_num_threads(1)
    exp = make_experiment("pbn/linear", "tiny")
    run_experiment(exp, RunOptions(device="cpu", precision="fp32", checkpoint_dir=str(tmp_path / "runs"),
                                   progress=False, cache_dir=str(tmp_path / "packs")), results_dir=tmp_path / "results")
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = I.main(["eval", "pbn/linear", "--profile", "tiny", "--data", "mpii", "--protocol", "multiscale",
                     "--out", str(tmp_path / "preds.mat"), "--json", "--data-root", str(DATA),
                     "--checkpoint-dir", str(tmp_path / "runs"), "--results", str(tmp_path / "results"),
                     "--cache-dir", str(tmp_path / "packs")])
    assert rc == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    files = {k: Path(v) for k, v in result["files"].items()}
    mat = loadmat(str(files["predictions"]))
    assert mat["preds"].shape == (result["people"], 16, 2)
    independent = plain_pckh(mat["preds"], MPII_GT, mat["gt_rows"].ravel().astype(int) - 1)
    for name, value in zip(result["joints"], independent):
        assert result["joints"][name] == pytest.approx(value) or (result["joints"][name] is None and np.isnan(value))


def test_mpii_rows_are_matched_by_joints_and_strangers_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    joints = rng.uniform(10, 500, size=(6, 16, 2))
    missing = np.zeros((6, 16), bool)
    missing[2, 3] = True
    joints[missing] = 0
    boxes = np.stack([joints[:, 9] - 20, joints[:, 9] + 20], 1)
    gt_file = tmp_path / "gt.mat"
    savemat(gt_file, {"pos_gt_src": joints.transpose(1, 2, 0), "headboxes_src": boxes.transpose(1, 2, 0),
                      "jnt_missing": missing.T.astype(float)})
    gt = formats.load_mpii_gt(gt_file)
    picked = np.array([4, 2, 0])
    found = export.match_gt_rows(joints[picked] + rng.uniform(-0.4, 0.4, (3, 16, 2)), ~missing[picked], gt)
    np.testing.assert_array_equal(found, picked)
    stranger = joints[[1]] + 5.0
    with pytest.raises(ValueError, match="match"):
        export.match_gt_rows(stranger, ~missing[[1]], gt)


@pytest.mark.parametrize("suffix", [".mat", ".csv"])
def test_lsp_file_keeps_lsp_order_and_one_based_pixels(tmp_path, suffix):
    rng = np.random.default_rng(1)
    pred = rng.uniform(0, 300, size=(5, 14, 2))
    images = [f"im{i:05d}.jpg" for i in range(9001, 9006)]
    export.write_lsp(tmp_path / f"p{suffix}", pred, rng.uniform(size=(5, 14)), images)
    back, names = export.read_lsp(tmp_path / f"p{suffix}")
    assert names == images
    np.testing.assert_allclose(back, pred + 1, atol=1e-3 if suffix == ".csv" else 0)
    if suffix == ".mat":
        assert loadmat(str(tmp_path / "p.mat"))["preds"].shape == (14, 2, 5)


@needs_lsp
def test_lsp_round_trip_scores_identically_against_joints_mat(tmp_path):
    from lib.data import load_poseset

    ps = load_poseset("lspet", "val", data_root=DATA, resolution=64, cache_dir=tmp_path / "packs", limit=24)
    assert ps.joint_ids == LSP_TO_MPII
    torso_px = ps.norm * ps.origin[:, 2]
    pred = noisy(export.image_joints(ps), 0.12 * torso_px, seed=2)
    export.write_lsp(tmp_path / "lsp.mat", pred, np.ones((len(ps), 14)), ps.meta["images"])
    back, names = export.read_lsp(tmp_path / "lsp.mat")
    # the annotations, read straight from LSP Extended's joints.mat (14×3×N, 1-based x, y, visible)
    raw = loadmat(str(DATA / "lspet" / "joints.mat"))["joints"]
    index = [int(n[2:7]) - 1 for n in names]
    gt, vis = raw[:, :2, index].transpose(2, 0, 1), raw[:, 2, index].T > 0
    l_sho, r_hip = LSP_JOINTS.index("l_shoulder"), LSP_JOINTS.index("r_hip")
    torso = np.sqrt(((gt[:, l_sho] - gt[:, r_hip]) ** 2).sum(-1))
    people = vis[:, l_sho] & vis[:, r_hip]
    ok = (np.sqrt(((back - gt) ** 2).sum(-1)) < 0.2 * torso[:, None]) & vis & people[:, None]
    independent = 100.0 * ok.sum(0) / (vis & people[:, None]).sum(0)
    norm = metrics.torso_size(gt, LSP_TO_MPII, vis)
    ours = metrics.per_joint(*metrics.pck_hits(back, gt, vis, norm, 0.2))
    np.testing.assert_array_equal(ours, independent)
    assert people.sum() > 0 and 5 < np.nanmean(independent) < 95
    # the file's pixels are LSP's own: the ground truth written back sits on joints.mat
    assert np.abs(np.where(vis[..., None], export.image_joints(ps) + 1 - gt, 0)).max() < 0.01
