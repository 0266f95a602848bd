"""A record's prediction file scores the same in anyone's code, from the dataset's own ground truth.

Each run writes its validation predictions in the source image's pixels with the image each
person comes from (README, "Records and their predictions"). For LSP Extended this test reads
only that file and ``$POSE_DATA/lspet/joints.mat`` with plain scipy/numpy (no ``lib`` reader, no
crops), scores PCK@0.2 with the standard LSP torso (left shoulder to right hip, else the other
diagonal), and checks that it agrees with the record's own hits, for a fresh tiny run on real
photos and for every committed `cpu` record of LSP Extended. For `synthetic-mpii`, whose ground
truth is the rendering itself, it renders the first 48 listed people one by one from the record's
config (no pack, no crops) and scores PCKh@0.5 with each rendered head size.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from lib.data import synthetic_config_for
from lib.data.synthetic import render_example, render_inputs
from lib.engine import RunOptions
from lib.experiments import make_experiment
from lib.joints import LSP_JOINTS, LSP_TO_MPII
from lib.results import DEFAULT_RESULTS, iter_records
from lib.runner import run_experiment

ROOT = os.environ.get("POSE_DATA", "")
JOINTS_MAT = Path(ROOT) / "lspet" / "joints.mat"
MPII_POSES = Path(ROOT) / "mpii" / "mpii_annotations.json.gz"
needs_lspet = pytest.mark.skipif(not JOINTS_MAT.is_file(), reason="needs POSE_DATA with lspet/joints.mat")
needs_mpii = pytest.mark.skipif(not MPII_POSES.is_file(), reason="needs POSE_DATA with mpii/mpii_annotations.json.gz")


def independent_hits(pred_image: np.ndarray, images: np.ndarray, joint_ids: np.ndarray):
    """``(hits, evaluated, scored)`` from joints.mat alone; ``scored``: people with a torso diagonal."""
    gt = scipy.io.loadmat(JOINTS_MAT)["joints"]  # 14 × 3 × N: x, y (1-based), visible
    rows = np.array([int(Path(str(name)).stem[2:]) - 1 for name in images])
    people = gt[:, :, rows].transpose(2, 0, 1)  # N × 14 × 3
    xy, visible = people[:, :, :2] - 1.0, people[:, :, 2] > 0
    def diagonal(a: str, b: str):
        i, j = LSP_JOINTS.index(a), LSP_JOINTS.index(b)
        return np.linalg.norm(xy[:, i] - xy[:, j], axis=1), visible[:, i] & visible[:, j]
    d0, ok0 = diagonal("l_shoulder", "r_hip")
    d1, ok1 = diagonal("r_shoulder", "l_hip")
    torso = np.where(ok0, d0, d1)
    cols = [LSP_TO_MPII.index(int(j)) for j in joint_ids]
    err = np.linalg.norm(pred_image.astype(np.float64) - xy[:, cols], axis=2) / np.maximum(torso, 1e-9)[:, None]
    evaluated = visible[:, cols]
    return (err < 0.2) & evaluated, evaluated, ok0 | ok1


def check(arrays: dict) -> None:
    hits, evaluated, scored = independent_hits(arrays["pred_image"], arrays["image"], arrays["joint_ids"])
    assert scored.mean() > 0.5
    assert (evaluated == arrays["evaluated"]).all()
    mine, theirs = hits[scored], arrays["hits"][scored]
    assert (mine == theirs).mean() >= 0.999  # float32 crops vs float64 here: only exact ties may differ
    assert abs(mine.sum() / evaluated[scored].sum() - theirs.sum() / arrays["evaluated"][scored].sum()) < 1e-3


def fresh_run(dataset: str, tmp_path: Path):
    """A tiny ``pbn/linear`` run on ``dataset``, its record and its val size."""
    torch.set_num_threads(1)
    exp = make_experiment("pbn/linear", "tiny", dataset=dataset)
    opts = RunOptions(device="cpu", precision="fp32", checkpoint_dir=str(tmp_path / "runs"), progress=False,
                      data_root=ROOT, cache_dir=str(tmp_path / "packs"))
    return run_experiment(exp, opts, results_dir=tmp_path / "results"), exp.data.val_limit


@pytest.mark.slow
@needs_lspet
def test_a_fresh_runs_prediction_file_scores_the_same_from_joints_mat(tmp_path):
    rec, people = fresh_run("lspet", tmp_path)
    arrays = rec.arrays()
    assert arrays["pred_image"].shape == (people, 14, 2) and arrays["image"][0] == "im09001.jpg"
    check(arrays)


@needs_lspet
@pytest.mark.parametrize("record", [r for r in iter_records("cpu", "lspet") if "pred_image" in r.arrays()] or
                         [pytest.param(None, marks=pytest.mark.skip(reason=f"no cpu record of lspet in {DEFAULT_RESULTS}"))],
                         ids=lambda r: r.path.stem if r is not None else "none")
def test_committed_records_score_the_same_from_joints_mat(record):
    check(record.arrays())
    assert 100 * record.arrays()["hits"].sum() / record.arrays()["evaluated"].sum() == pytest.approx(
        record.metrics["Mean"], abs=0.05)


def rendered_hits(record_data: dict, arrays: dict, people: int):
    """``(hits, evaluated)`` of the first ``people`` predictions against a fresh rendering of each person.

    The validation renderer config is rebuilt from the record's data config alone; ``image`` names
    each person's index in that split, so rendering it again gives its joints, annotation mask and
    head size (:func:`lib.data.synthetic.render_example`)."""
    data = record_data["config"]["data"]
    cfg = synthetic_config_for("val", None, data["resolution"], data["margin"], data["val_limit"], poses="mpii")
    bank, pool, order = render_inputs(cfg, ROOT)
    cols = list(arrays["joint_ids"])
    hits, evaluated = [], []
    for k in range(people):
        ex = render_example(cfg, bank, int(arrays["image"][k]), pool, order)
        err = np.linalg.norm(arrays["pred_image"][k].astype(np.float64) - ex["joints"][cols], axis=1) / ex["norm"]
        evaluated.append(ex["annotated"][cols])
        hits.append((err < 0.5) & evaluated[-1])
    return np.array(hits), np.array(evaluated)


def check_rendered(record_data: dict, arrays: dict, people: int = 48) -> None:
    hits, evaluated = rendered_hits(record_data, arrays, people)
    assert (evaluated == arrays["evaluated"][:people]).all()
    assert (hits == arrays["hits"][:people]).mean() >= 0.999


@pytest.mark.slow
@needs_mpii
def test_a_fresh_synthetic_mpii_runs_predictions_score_the_same_from_a_fresh_rendering(tmp_path):
    rec, people = fresh_run("synthetic-mpii", tmp_path)
    arrays = rec.arrays()
    assert arrays["pred_image"].shape == (people, 16, 2) and list(arrays["image"][:2]) == ["0", "1"]
    check_rendered(rec.data, arrays, people=people)


@pytest.mark.slow
@needs_mpii
@pytest.mark.parametrize("record", [r for r in iter_records("cpu", "synthetic-mpii") if "pred_image" in r.arrays()] or
                         [pytest.param(None, marks=pytest.mark.skip(reason=f"no cpu record of synthetic-mpii in {DEFAULT_RESULTS}"))],
                         ids=lambda r: r.path.stem if r is not None else "none")
def test_committed_synthetic_mpii_records_score_the_same_from_a_fresh_rendering(record):
    check_rendered(record.data, record.arrays())
