"""Person crops, packs and ``load_poseset`` on test-made files and on the real datasets; the CLI."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from lib.data import load_poseset
from lib.data.__main__ import main
from lib.data.pack import PackSpec, crop_person, read_image
from lib.data.poseset import PoseSet
from lib.errors import DataFileError

REAL = Path(os.environ.get("POSE_DATA", "/nonexistent"))
needs_real = pytest.mark.skipif(not (REAL / "mpii").is_dir() or not (REAL / "lspet").is_dir(),
                                reason="needs the real datasets: set POSE_DATA (e.g. POSE_DATA=/work/shared/data)")


def make_lspet(root: Path, n: int = 1004) -> np.ndarray:
    """A tiny LSP Extended under ``root/lspet``: ``n`` people (the split needs > 1000), one photo
    hard-linked ``n`` times, with a bright dot at every person's head top. Returns 1-based joints."""
    rng = np.random.default_rng(0)
    (root / "lspet" / "images").mkdir(parents=True)
    joints = np.concatenate([rng.uniform(30, 70, (n, 14, 2)), np.ones((n, 14, 1))], -1)
    joints[:, 13, :2] = [41, 31]  # head top, 1-based: pixel (40, 30) 0-based
    joints[-1, 3] = [0, -20, 0]  # one missing joint
    scipy.io.savemat(root / "lspet" / "joints.mat", {"joints": joints.transpose(1, 2, 0)})
    img = np.full((100, 120, 3), 40, np.uint8)
    img[29:32, 39:42] = 255
    first = root / "lspet" / "images" / "im00001.jpg"
    Image.fromarray(img).save(first, quality=95)
    for i in range(2, n + 1):
        os.link(first, root / "lspet" / "images" / f"im{i:05d}.jpg")
    return joints


def make_mpii(root: Path) -> None:
    """A tiny MPII: 3 people (2 train, 1 val) in 2 photos, full layout; photo b.jpg is absent."""
    (root / "mpii" / "images").mkdir(parents=True)
    recs = []
    for i, (name, val) in enumerate([("a.jpg", 0), ("a.jpg", 0), ("b.jpg", 1)]):
        js = [[30.0 + 2 * j + 10 * i, 20.0 + 3 * j, 1.0] for j in range(16)]
        recs.append({"img_paths": name, "isValidation": float(val), "joint_self": js, "objpos": [50.0, 40.0],
                     "scale_provided": 0.3, "img_width": 120.0, "img_height": 90.0})
    with gzip.open(root / "mpii" / "mpii_annotations.json.gz", "wt") as f:
        json.dump(recs, f)
    Image.fromarray(np.full((90, 120, 3), 90, np.uint8)).save(root / "mpii" / "images" / "a.jpg")


# ----------------------------------------------------------------------------- cropping


def test_crop_person_maps_pixels_like_its_origin():
    img = np.zeros((80, 100, 3), np.uint8)
    img[49:52, 69:72] = 255  # dot at (70, 50)
    for center, side, res in [((60.0, 45.0), 40.0, 64), ((60.3, 45.7), 150.0, 32), ((95.0, 5.0), 30.0, 48)]:
        crop, origin = crop_person(Image.fromarray(img), np.array(center), side, res, 1.25)
        assert crop.shape == (res, res, 3)
        expected = (np.array([70.0, 50.0]) - origin[:2]) / origin[2]
        if 0 <= expected.min() and expected.max() < res:
            w = crop[..., 0].astype(float)
            yy, xx = np.mgrid[:res, :res]
            got = np.array([(w * xx).sum(), (w * yy).sum()]) / w.sum()
            assert np.abs(got - expected).max() < 0.15, (center, side, got, expected)
        assert origin[2] == pytest.approx(side * 1.25 / res)
    # a box hanging over the border is padded with black, not an error
    crop, _ = crop_person(Image.fromarray(img), np.array([2.0, 2.0]), 40.0, 32, 1.25)
    assert crop[:8, :8].max() == 0


def test_read_image_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jpg not found"):
        read_image(tmp_path / "nope.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"garbage")
    with pytest.raises(DataFileError, match="bad.jpg: is not a readable image"):
        read_image(tmp_path / "bad.jpg")
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "grey.png")
    assert np.asarray(read_image(tmp_path / "grey.png")).shape == (4, 4, 3)


# ----------------------------------------------------------------------------- packs and load_poseset


def test_lspet_from_test_files_pack_and_cache(tmp_path):
    joints = make_lspet(tmp_path / "data")
    cache = tmp_path / "cache"
    kw = {"data_root": tmp_path / "data", "cache_dir": cache, "resolution": 32}
    val = load_poseset("lspet", "val", **kw)
    assert len(val) == 1000 and val.metric == "pck" and val.resolution == 32 and val.num_joints == 14
    assert not val.annotated[-1, 3] and val.annotated.sum() == 1000 * 14 - 1
    # crop joints map back to the image through origin (0-based image px)
    back = val.origin[:, None, :2] + val.joints * val.origin[:, None, 2:3]
    np.testing.assert_allclose(back[0], joints[1004 - 1000, :, :2] - 1, atol=1e-3)
    # the dot at the head top is where the head-top joint says (JPEG and resampling allowing)
    w = val.images[0, ..., 0].astype(float) - 40
    w[w < 60] = 0
    yy, xx = np.mgrid[:32, :32]
    dot = np.array([(w * xx).sum(), (w * yy).sum()]) / w.sum()
    assert np.abs(dot - val.joints[0, 13]).max() < 0.5
    assert (val.norm > 0).all()

    pack_file = cache / PackSpec("lspet", "val", 32, 1.25).file_name()
    assert pack_file.is_file() and pack_file.stat().st_size < 1000 * 2000  # JPEG: well under raw 3 KB/crop
    os.rename(tmp_path / "data", tmp_path / "moved")  # the pack no longer needs the data
    again = load_poseset("lspet", "val", **kw)
    assert np.array_equal(again.joints, val.joints) and np.array_equal(again.images, val.images)
    first = load_poseset("lspet", "val", limit=10, **kw)  # served from the full pack
    assert len(first) == 10 and np.array_equal(first.images, val.images[:10]) and len(first.meta["images"]) == 10
    with pytest.raises(FileNotFoundError):  # another resolution is another pack: needs the data
        load_poseset("lspet", "val", data_root=tmp_path / "data", cache_dir=cache, resolution=48)
    os.rename(tmp_path / "moved", tmp_path / "data")
    with pytest.raises(FileNotFoundError):  # rebuild ignores the pack and reads the data again
        load_poseset("lspet", "val", data_root=tmp_path / "nowhere", cache_dir=cache, resolution=32, rebuild=True)
    train = load_poseset("lspet", "train", limit=3, **kw)
    assert len(train) == 3 and train.meta["images"] == ["im00001.jpg", "im00002.jpg", "im00003.jpg"]
    assert (cache / PackSpec("lspet", "train", 32, 1.25, limit=3).file_name()).is_file()


def test_stale_or_corrupt_pack_is_rebuilt(tmp_path):
    make_lspet(tmp_path / "data")
    kw = {"data_root": tmp_path / "data", "cache_dir": tmp_path / "cache", "resolution": 32, "limit": 4}
    ps = load_poseset("lspet", "train", **kw)
    path = tmp_path / "cache" / PackSpec("lspet", "train", 32, 1.25, limit=4).file_name()
    path.write_bytes(b"corrupt")
    with pytest.warns(UserWarning, match="n4.npz is not a PoseSet file .*built .* afresh"):
        assert np.array_equal(load_poseset("lspet", "train", **kw).joints, ps.joints)
    stale = PoseSet.load(path)
    stale.meta["pack"]["version"] = -1
    stale.joints[:] = 0
    stale.save(path)
    with pytest.warns(UserWarning, match="was built with other parameters or an older version"):
        assert np.array_equal(load_poseset("lspet", "train", **kw).joints, ps.joints)


def test_pack_is_tied_to_its_sources(tmp_path, monkeypatch):
    data, other = tmp_path / "data", tmp_path / "other"
    joints = make_lspet(data)
    mat = data / "lspet" / "joints.mat"
    kw = {"cache_dir": tmp_path / "cache", "resolution": 32, "limit": 4}
    pack_file = tmp_path / "cache" / PackSpec("lspet", "train", 32, 1.25, limit=4).file_name()
    ps = load_poseset("lspet", "train", data_root=data, **kw)
    recorded = ps.meta["sources"]
    assert recorded["files"] == {"lspet/joints.mat": {"size": mat.stat().st_size,
                                                      "sha256": hashlib.sha256(mat.read_bytes()).hexdigest()}}
    assert recorded["images"] == "lspet/images" and recorded["root"] == str(data.resolve())

    os.utime(mat, (1, 1))  # touched, same content: the same pack, silently
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(load_poseset("lspet", "train", data_root=data, **kw).images, ps.images)

    joints[0, 13, 0] += 5  # person 0's head top moves 5 px right: the pack is rebuilt from the new file
    scipy.io.savemat(mat, {"joints": joints.transpose(1, 2, 0)})
    with pytest.warns(UserWarning, match=r"n4.npz is stale, built from .*data, .*lspet/joints.mat \d+ bytes sha256 "
                                         r"\w+ then, \d+ bytes sha256 \w+ now; built .*n4.npz afresh"):
        new = load_poseset("lspet", "train", data_root=data, **kw)
    back = new.origin[0, :2] + new.joints[0, 13] * new.origin[0, 2]
    np.testing.assert_allclose(back, joints[0, 13, :2] - 1, atol=1e-3)
    assert np.abs(back - ps.origin[0, :2] - ps.joints[0, 13] * ps.origin[0, 2]).max() == pytest.approx(5, abs=1e-3)

    # another data root: its own annotations decide, the pack is not served
    (other / "lspet").mkdir(parents=True)
    (other / "lspet" / "joints.mat").write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(DataFileError, match="other/lspet/joints.mat: is not a readable MATLAB .mat file"):
        load_poseset("lspet", "train", data_root=other, **kw)
    joints[1, 13, 0] += 5
    scipy.io.savemat(other / "lspet" / "joints.mat", {"joints": joints.transpose(1, 2, 0)})
    with pytest.raises(FileNotFoundError, match="images missing from .*other/lspet/images"):
        load_poseset("lspet", "train", data_root=other, **kw)
    # the same annotation file under another root (another mount of the data): the same pack
    shutil.copy(mat, other / "lspet" / "joints.mat")
    assert np.array_equal(load_poseset("lspet", "train", data_root=other, **kw).images, new.images)
    # another photo folder: not served
    with pytest.raises(FileNotFoundError, match="images missing from .*elsewhere"):
        load_poseset("lspet", "train", data_root=data, images_dir=tmp_path / "elsewhere", **kw)

    # no data root at all (a GPU machine carrying packs), or one without lspet/: used on its parameters
    monkeypatch.delenv("POSE_DATA", raising=False)
    (tmp_path / "bare").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(load_poseset("lspet", "train", **kw).images, new.images)
        assert np.array_equal(load_poseset("lspet", "train", data_root=tmp_path / "bare", **kw).images, new.images)
    # ... but an unreadable pack there is a one-line error; with the data it is rebuilt, with a warning
    pack_file.write_bytes(pack_file.read_bytes()[:1000])
    with pytest.raises(DataFileError, match="n4.npz: cached pack is not a readable PoseSet file.*set POSE_DATA"):
        load_poseset("lspet", "train", **kw)
    with pytest.warns(UserWarning, match="n4.npz is not a readable PoseSet file.*built .*n4.npz afresh"):
        assert np.array_equal(load_poseset("lspet", "train", data_root=data, **kw).images, new.images)


def test_mpii_pack_is_tied_to_the_json_and_the_ground_truth(tmp_path):
    make_mpii(tmp_path / "data")
    kw = {"data_root": tmp_path / "data", "cache_dir": tmp_path / "cache"}
    first = load_poseset("mpii", "train", **kw)
    assert set(first.meta["sources"]["files"]) == {"mpii/mpii_annotations.json.gz"}
    ann = tmp_path / "data" / "mpii" / "mpii_annotations.json.gz"
    with gzip.open(ann, "rt") as f:
        recs = json.load(f)
    recs[0]["objpos"] = [55.0, 40.0]
    with gzip.open(ann, "wt") as f:
        json.dump(recs, f)
    with pytest.warns(UserWarning, match="is stale, .*mpii_annotations.json.gz"):
        moved = load_poseset("mpii", "train", **kw)
    assert moved.origin[0, 0] == pytest.approx(first.origin[0, 0] + 5, abs=1e-4)  # the crop follows objpos
    scipy.io.savemat(tmp_path / "data" / "mpii" / "detections_our_format.mat", {"x": np.zeros(1)})
    with pytest.raises(DataFileError, match="detections_our_format.mat: lacks"):  # a new source is read, not ignored
        load_poseset("mpii", "train", **kw)


@pytest.mark.slow
def test_cli_preview_is_not_served_a_pack_of_another_root(tmp_path):
    make_lspet(tmp_path / "data")
    cache = tmp_path / "cache"
    load_poseset("lspet", "val", data_root=tmp_path / "data", cache_dir=cache, resolution=32)
    other = tmp_path / "other"
    (other / "lspet").mkdir(parents=True)
    (other / "lspet" / "joints.mat").write_bytes(b"MATLAB 5.0 MAT-file" + np.random.default_rng(1).bytes(300))
    run = subprocess.run([sys.executable, "-m", "lib.data", "preview", "lspet", "--split", "val", "--resolution", "32",
                          "--data-root", str(other), "--cache-dir", str(cache), "--out", str(tmp_path / "p.png")],
                         cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and not (tmp_path / "p.png").exists()
    assert run.stderr.startswith(f"error: {other / 'lspet' / 'joints.mat'}: ") and run.stderr.count("\n") == 1, run.stderr


def test_missing_images_strict_or_dropped(tmp_path):
    make_mpii(tmp_path / "data")
    kw = {"data_root": tmp_path / "data", "cache_dir": tmp_path / "cache"}
    with pytest.raises(FileNotFoundError, match="b.jpg.*require_images=False"):
        load_poseset("mpii", "val", **kw)
    train = load_poseset("mpii", "train", **kw)
    assert len(train) == 2 and train.metric == "pckh" and train.num_joints == 16
    # PCKh norm in crop px: 0.75 × head segment / crop scale
    seg = np.linalg.norm(np.array([2.0 * 9 - 2.0 * 8, 3.0 * 9 - 3.0 * 8]))
    assert train.norm[0] == pytest.approx(0.75 * seg / train.origin[0, 2], rel=1e-5)
    # the person box: objpos shifted down by 15·scale, side 200·scale·1.25, crop = margin × box
    centre = train.origin[0, :2] + train.origin[0, 2] * (train.resolution - 1) / 2
    np.testing.assert_allclose(centre, [49, 39 + 15 * 0.3], atol=1e-4)
    assert train.origin[0, 2] * train.resolution == pytest.approx(200 * 0.3 * 1.25 * 1.25)
    with pytest.warns(UserWarning, match="dropped 1 of 1"):
        with pytest.raises(FileNotFoundError, match="no MPII val people"):
            load_poseset("mpii", "val", require_images=False, **kw)
    (tmp_path / "data" / "mpii" / "images" / "b.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataFileError, match="b.jpg: is not a readable image"):
        load_poseset("mpii", "val", **kw)
    Image.fromarray(np.zeros((45, 60, 3), np.uint8)).save(tmp_path / "data" / "mpii" / "images" / "b.jpg")
    with pytest.raises(DataFileError, match="b.jpg: is 60×45 px but was annotated at 120×90"):
        load_poseset("mpii", "val", **kw)


def test_load_poseset_bad_arguments(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="unknown dataset"):
        load_poseset("coco", "train")
    with pytest.raises(ValueError, match="unknown split"):
        load_poseset("lspet", "test")
    with pytest.raises(ValueError, match="limit"):
        load_poseset("lspet", "train", limit=0)
    monkeypatch.delenv("POSE_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="POSE_DATA"):
        load_poseset("lspet", "train", cache_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_poseset("lspet", "train", data_root=tmp_path / "missing", cache_dir=tmp_path)


# ----------------------------------------------------------------------------- command line


def test_cli_preview_and_pack(tmp_path, capsys):
    make_lspet(tmp_path / "data")
    common = ["--data-root", str(tmp_path / "data"), "--cache-dir", str(tmp_path / "cache"), "--resolution", "32"]
    main(["pack", "lspet", "--split", "val", *common])
    assert "lspet val: 1000 people" in capsys.readouterr().out
    out = tmp_path / "p.png"
    main(["preview", "lspet", "--split", "val", "--out", str(out), "--n", "4", "--input-size", "64", *common])
    with Image.open(out) as png:
        assert png.size[0] > 100


# ----------------------------------------------------------------------------- real data


@pytest.mark.slow
@pytest.mark.realdata
@needs_real
def test_real_mpii_available_images(tmp_path):
    with pytest.warns(UserWarning, match="dropped 2951 of 2958"):
        val = load_poseset("mpii", "val", data_root=REAL, cache_dir=tmp_path, require_images=False)
    assert len(val) == 7 and val.meta["official_headboxes"] and val.meta["visibility_known"]
    # PCKh norm from the official head boxes: 0.6 × diagonal, in crop px
    gt = scipy.io.loadmat(REAL / "mpii" / "detections_our_format.mat")["headboxes_src"].transpose(2, 0, 1)
    names = json.loads((REAL / "mpii" / "valid.json").read_text())
    rows = [i for i, r in enumerate(names) if (REAL / "mpii" / "images" / r["image"]).is_file()]
    official = 0.6 * np.linalg.norm(gt[rows, 1] - gt[rows, 0], axis=1)
    np.testing.assert_allclose(val.norm * val.origin[:, 2], official, rtol=1e-5)
    with pytest.warns(UserWarning, match="cached pack lacks 2951"):
        load_poseset("mpii", "val", data_root=REAL, cache_dir=tmp_path, require_images=False)


@pytest.mark.slow
@pytest.mark.realdata
@needs_real
def test_real_lspet_val_pack(tmp_path):
    val = load_poseset("lspet", "val", data_root=REAL, cache_dir=tmp_path)
    assert len(val) == 1000 and val.meta["images"][0] == "im09001.jpg"
    assert val.meta["torso_rule_counts"] == [737, 97, 166]
    # the person box spans R / margin px: annotated joints lie inside the crop, box in the middle
    inside = val.joints[val.annotated]
    assert inside.min() >= 0 and inside.max() <= val.resolution - 1
    size = (tmp_path / PackSpec("lspet", "val", 128, 1.25).file_name()).stat().st_size
    assert size < 7 * 2**20  # ~4.8 MiB: train + val ~48 MiB, carried to a GPU machine


def test_synthetic_train_and_val_differ_and_are_cached(tmp_path):
    synthetic = pytest.importorskip("lib.data.synthetic")
    cfg = synthetic.SyntheticConfig(num=4, resolution=64)
    train = load_poseset("synthetic", "train", synthetic=cfg, cache_dir=tmp_path)
    val = load_poseset("synthetic", "val", synthetic=cfg, cache_dir=tmp_path)
    assert len(train) == len(val) == 4 and train.resolution == 64
    assert not np.array_equal(train.joints, val.joints)  # val renders with another seed
    assert len(list(tmp_path.glob("synthetic-*.npz"))) == 2
    assert np.array_equal(load_poseset("synthetic", "train", synthetic=cfg, cache_dir=tmp_path).images, train.images)
    with pytest.raises(ValueError, match="resolution=128 disagrees"):
        load_poseset("synthetic", "train", synthetic=cfg, resolution=128, cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"only applies to \['synthetic', 'synthetic-mpii'\]"):
        load_poseset("lspet", "train", synthetic=cfg, cache_dir=tmp_path)


def test_processes_needing_one_missing_pack_build_it_once(tmp_path, monkeypatch):
    """A parallel sweep's runs that need the same missing pack at once: one renders it, the others wait and read it."""
    import threading
    import time

    synthetic = pytest.importorskip("lib.data.synthetic")
    render, calls = synthetic.render_poseset, []

    def slow_render(*args, **kw):
        calls.append(1)
        time.sleep(0.5)  # long enough for the other loaders to arrive while the pack is missing
        return render(*args, **kw)

    monkeypatch.setattr(synthetic, "render_poseset", slow_render)
    cfg = synthetic.SyntheticConfig(num=4, resolution=64)
    got = [None] * 3

    def load(i: int) -> None:
        got[i] = load_poseset("synthetic", "train", synthetic=cfg, cache_dir=tmp_path)

    threads = [threading.Thread(target=load, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert all(g is not None and np.array_equal(g.images, got[0].images) for g in got)
    assert len(list(tmp_path.glob("synthetic-*.npz"))) == 1
