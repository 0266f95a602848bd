"""Damaged inputs: every reader turns an empty, truncated or garbage file into one DataFileError.

Each reader gets a small valid file of its format (checked to read), then the empty file, the
file cut at 1, 10, 50 and 90 % of its bytes, and random bytes; each must raise
:class:`lib.errors.DataFileError` whose one-line message names the file. The command lines must
print that line (no traceback) and exit non-zero.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from lib import checkpoint as ckpt
from lib.data import lsp, mpii
from lib.data.pack import read_image
from lib.data.poseset import PoseSet
from lib.errors import DataFileError, check_magic, run_main
from lib.data.formats import load_mpii_gt, load_predictions
from lib.results import load_record, write_record

REPO = Path(__file__).resolve().parents[1]
CUTS = (0.01, 0.10, 0.50, 0.90)
RANDOM_SIZES = (1, 64, 4096)


def damaged_copies(good: Path) -> list[tuple[str, bytes]]:
    """``(label, bytes)``: empty, the cuts of ``good``, random bytes (fixed seed)."""
    data = good.read_bytes()
    rng = np.random.default_rng(13)
    out = [("empty", b"")]
    out += [(f"cut {f:.0%}", data[: max(1, int(f * len(data)))]) for f in CUTS]
    out += [(f"random {n} B", rng.bytes(n)) for n in RANDOM_SIZES]
    return out


def assert_each_damage_is_one_error(good: Path, read: Callable[[Path], object]) -> None:
    """``read(good)`` works; ``read`` of every damaged copy (same name) raises one DataFileError
    naming the file that was read, on one line."""
    read(good)
    original = good.read_bytes()
    try:
        for label, data in damaged_copies(good):
            good.write_bytes(data)
            with pytest.raises(DataFileError) as e:
                read(good)
            message = str(e.value)
            assert good.name in message and "\n" not in message, (label, message)
            assert e.value.path.name in (good.name, good.with_suffix(".npz").name), (label, e.value.path)
    finally:
        good.write_bytes(original)


# ----------------------------------------------------------------------------- annotation files


def mpii_records(n: int = 40) -> list[dict]:
    rng = np.random.default_rng(0)
    return [{"img_paths": f"{i:05d}.jpg", "isValidation": float(i % 4 == 0),
             "joint_self": [[float(x), float(y), 1.0] for x, y in rng.uniform(10, 90, (16, 2))],
             "objpos": [50.0, 50.0], "scale_provided": 1.2} for i in range(n)]


def test_mpii_json_gz(tmp_path):
    path = tmp_path / "mpii_annotations.json.gz"
    with gzip.open(path, "wt") as f:
        json.dump(mpii_records(), f)
    assert_each_damage_is_one_error(path, mpii.read_mpii)


def test_mpii_json(tmp_path):
    path = tmp_path / "valid.json"
    path.write_text(json.dumps([{"image": "a.jpg", "center": [50.0, 50.0], "scale": 1.0,
                                 "joints": r["joint_self"], "joints_vis": [1] * 16} for r in mpii_records()])
                    .replace(", 1.0]", "]"))  # common layout: [x, y] joints
    assert_each_damage_is_one_error(path, mpii.read_mpii)


def official_gt(path: Path, n: int = 30) -> Path:
    rng = np.random.default_rng(1)
    scipy.io.savemat(path, {"pos_gt_src": rng.uniform(1, 100, (16, 2, n)), "jnt_missing": np.zeros((16, n)),
                            "headboxes_src": np.tile([[[10.0], [20.0]], [[40.0], [60.0]]], (1, 1, n))})
    return path


def test_official_ground_truth_mat(tmp_path):
    assert_each_damage_is_one_error(official_gt(tmp_path / "detections_our_format.mat"), load_mpii_gt)


def test_predictions_mat_and_npy(tmp_path):
    preds = np.random.default_rng(2).uniform(1, 100, (30, 16, 2))
    scipy.io.savemat(tmp_path / "pred.mat", {"preds": preds})
    np.save(tmp_path / "pred.npy", preds)
    assert_each_damage_is_one_error(tmp_path / "pred.mat", load_predictions)
    assert_each_damage_is_one_error(tmp_path / "pred.npy", load_predictions)


def test_lsp_joints_mat(tmp_path):
    joints = np.concatenate([np.random.default_rng(3).uniform(1, 100, (14, 2, 60)), np.ones((14, 1, 60))], 1)
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": joints})
    assert_each_damage_is_one_error(tmp_path / "joints.mat", lsp.read_lsp)


def test_mat_v73_and_wrong_contents_say_what_to_do(tmp_path):
    path = tmp_path / "joints.mat"
    path.write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: x HDF5 schema 1.00 ." + bytes(60) + b"\x00\x02IM"
                     + b"\x89HDF\r\n\x1a\n" + bytes(400))
    with pytest.raises(DataFileError, match=r"joints.mat: is (a MATLAB v7.3|not a readable MATLAB)"):
        lsp.read_lsp(path)
    scipy.io.savemat(path, {"joints": np.zeros((14, 3, 0))})
    with pytest.raises(DataFileError, match="joints.mat: 'joints' holds no people; use joints.mat as distributed"):
        lsp.read_lsp(path)


# ----------------------------------------------------------------------------- images, packs


def test_photos_jpeg_and_png(tmp_path):
    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "im00001.jpg", quality=90)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    assert_each_damage_is_one_error(tmp_path / "im00001.jpg", read_image)
    assert_each_damage_is_one_error(tmp_path / "a.png", read_image)


def small_poseset(n: int = 6) -> PoseSet:
    rng = np.random.default_rng(5)
    return PoseSet(images=rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
                   joints=rng.uniform(0, 31, (n, 14, 2)).astype(np.float32), annotated=np.ones((n, 14), bool),
                   visible=np.ones((n, 14), bool), norm=np.full(n, 9.0, np.float32), joint_ids=tuple(range(14)),
                   metric="pck", margin=1.25, meta={"dataset": "test"})


@pytest.mark.parametrize("jpeg_quality", [None, 85])
def test_packs(tmp_path, jpeg_quality):
    path = tmp_path / "lspet-val-r32-m1.25.npz"
    small_poseset().save(path, jpeg_quality=jpeg_quality)
    assert_each_damage_is_one_error(path, PoseSet.load)


def test_pack_with_a_foreign_npz_or_damaged_jpeg_inside(tmp_path):
    path = tmp_path / "pack.npz"
    np.savez(path, images=np.zeros((2, 4, 4, 3), np.uint8))  # an .npz, but no PoseSet header
    with pytest.raises(DataFileError, match="pack.npz: is not a readable PoseSet file.*KeyError"):
        PoseSet.load(path)
    small_poseset().save(path, jpeg_quality=85)
    with np.load(path) as z:
        arrays = dict(z)
    arrays["images_jpeg"] = arrays["images_jpeg"].copy()
    arrays["images_jpeg"][: arrays["images_offsets"][1]] = 7  # the first crop's JPEG overwritten
    np.savez(path, **arrays)
    with pytest.raises(DataFileError, match="pack.npz: is not a readable PoseSet file"):
        PoseSet.load(path)


# ----------------------------------------------------------------------------- records, checkpoints


def a_record(tmp_path: Path) -> Path:
    path = tmp_path / "pbn-mi5-d1-w64-s0-0123abcd.json"
    write_record(path, {"experiment": "pbn/mi5-d1-w64", "seed": 0, "metrics": {"Mean": 50.0},
                        "history": [{"epoch": 1, "val_mean": 50.0}] * 20},
                 {"hits": np.ones((50, 14), bool), "pred": np.random.default_rng(6).uniform(0, 64, (50, 14, 2))})
    return path


def test_record_json_and_npz(tmp_path):
    path = a_record(tmp_path)
    assert_each_damage_is_one_error(path, load_record)
    assert_each_damage_is_one_error(path.with_suffix(".npz"), lambda _: load_record(path).arrays())
    path.with_suffix(".npz").write_bytes(b"")
    with pytest.raises(DataFileError, match=r"0123abcd.npz: is empty; delete .*0123abcd.json and .*0123abcd.npz .*"
                                            "rerun the experiment"):
        load_record(path)


def test_record_npz_damaged_inside_is_caught_when_read(tmp_path):
    path = a_record(tmp_path)
    npz = path.with_suffix(".npz")
    data = bytearray(npz.read_bytes())
    data[60:200] = bytes(140)  # inside the first member's compressed data; the zip directory intact
    npz.write_bytes(bytes(data))
    rec = load_record(path)
    with pytest.raises(DataFileError, match="0123abcd.npz: is not a readable record archive"):
        rec.arrays()


def test_checkpoints_read_strictly_and_load_moves_a_damaged_one_aside(tmp_path):
    path = tmp_path / "run" / ckpt.LAST
    ckpt.save_atomic({"hash": "abc", "model": {"w": torch.arange(2000.0)}, "epoch": 3}, path)
    assert_each_damage_is_one_error(path, ckpt.read)
    assert ckpt.load(path)["epoch"] == 3
    for label, data in damaged_copies(path):
        good = path.read_bytes()
        path.write_bytes(data)
        with pytest.warns(UserWarning, match=f"checkpoint {path} .*moved it to last.pt.corrupt"):
            assert ckpt.load(path) is None, label
        assert not path.exists() and (path.parent / "last.pt.corrupt").read_bytes() == data
        path.write_bytes(good)
    assert ckpt.load(tmp_path / "run" / ckpt.FINAL) is None  # none: no warning, nothing moved
    torch.save([torch.zeros(2)], path)
    with pytest.raises(DataFileError, match="last.pt: holds a list without a config hash"):
        ckpt.read(path)


# ----------------------------------------------------------------------------- the one-line message


def test_error_is_one_line_with_path_problem_and_fix(tmp_path, capsys):
    e = DataFileError(tmp_path / "x.mat", "is\ntruncated", "download it\n again")
    assert str(e) == f"{tmp_path / 'x.mat'}: is truncated; download it again" and isinstance(e, ValueError)

    def main(argv):
        raise e

    assert run_main(main) == 2
    assert capsys.readouterr().err == f"error: {e}\n"
    (tmp_path / "x.mat").write_bytes(b"M")
    with pytest.raises(DataFileError, match=r"x.mat: is not a gzip file \(its first bytes are b'M'"):
        check_magic(tmp_path / "x.mat", b"\x1f\x8b", "gzip file", "fix")

    def buggy(argv):
        raise KeyError("a bug keeps its traceback")

    with pytest.raises(KeyError):
        run_main(buggy)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def assert_one_line_error(run: subprocess.CompletedProcess, path: Path) -> None:
    assert run.returncode != 0 and "Traceback" not in run.stderr, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(path) in lines[0], run.stderr


@pytest.mark.slow
def test_cli_groups_on_a_truncated_json_gz(tmp_path):
    path = tmp_path / "mpii_annotations.json.gz"
    with gzip.open(path, "wt") as f:
        json.dump(mpii_records(400), f)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    run = run_cli("lib.groups", str(path), "-k", "5")
    assert_one_line_error(run, path)
    assert "truncated" in run.stderr


@pytest.mark.slow
def test_cli_data_preview_with_a_garbage_joints_mat(tmp_path):
    other = tmp_path / "other"
    (other / "lspet").mkdir(parents=True)
    (other / "lspet" / "joints.mat").write_bytes(np.random.default_rng(7).bytes(3000))
    run = run_cli("lib.data", "preview", "lspet", "--data-root", str(other), "--cache-dir", str(tmp_path / "cache"),
                  "--out", str(tmp_path / "p.png"))
    assert_one_line_error(run, other / "lspet" / "joints.mat")
    assert not (tmp_path / "p.png").exists()


@pytest.mark.slow
def test_cli_metrics_with_a_truncated_ground_truth(tmp_path):
    gt = official_gt(tmp_path / "gt.mat")
    np.save(tmp_path / "p.npy", np.zeros((30, 16, 2)))
    gt.write_bytes(gt.read_bytes()[:700])
    assert_one_line_error(run_cli("lib.metrics", "pckh", str(tmp_path / "p.npy"), "--gt", str(gt)), gt)
