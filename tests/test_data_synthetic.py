"""The synthetic benchmark: determinism, shapes, visibility read off the rendering, head size,
occlusion rates, the kinematic generator's anatomy, and file poses (PoseSet .npz, MPII)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from lib.data import kinematics, render, synthetic
from lib.data.kinematics import SEGMENTS, Pose, sample_pose, sample_skeleton
from lib.data.poseset import PoseSet
from lib.data.synthetic import (TAG_BACKGROUND, TAG_OCCLUDER, SyntheticConfig, joint_visibility, paint_target,
                                render_poseset)
from lib.joints import MPII_JOINTS, idx

J = {name: i for i, name in enumerate(MPII_JOINTS)}


@pytest.fixture(scope="module")
def default_set() -> PoseSet:
    """200 images of the default config: the statistics below are measured on these."""
    return render_poseset(SyntheticConfig(num=200))


# --------------------------------------------------------------------------- contract


def test_shapes_dtypes_and_meta():
    ps = render_poseset(SyntheticConfig(num=5, resolution=64, seed=3))
    assert ps.images.shape == (5, 64, 64, 3) and ps.images.dtype == np.uint8
    assert ps.joints.shape == (5, 16, 2) and ps.joints.dtype == np.float32
    assert ps.annotated.dtype == bool and ps.annotated.all()  # generator poses: every joint known
    assert ps.visible.dtype == bool and ps.occlusion.dtype == np.int8
    assert ps.norm.shape == (5,) and (ps.norm > 0).all()
    assert ps.joint_ids == tuple(range(16)) and ps.metric == "pckh" and ps.margin == 1.25 and ps.origin is None
    assert set(np.unique(ps.occlusion)) <= {0, 1, 2}
    assert ((ps.occlusion == 0) == ps.visible).all()  # every annotated joint: visible or one of two types
    assert ps.meta["generator_version"] == synthetic.GENERATOR_VERSION
    assert ps.meta["config"]["seed"] == 3 and ps.meta["dataset"] == "synthetic"
    assert ps.images.std() > 20  # textured, not blank


def test_deterministic_and_stable_under_subsets():
    a = render_poseset(SyntheticConfig(num=6, resolution=64))
    b = render_poseset(SyntheticConfig(num=6, resolution=64))
    for name in ("images", "joints", "annotated", "visible", "occlusion", "norm"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    head = render_poseset(SyntheticConfig(num=3, resolution=64))  # image i depends on (seed, i) only
    assert np.array_equal(head.images, a.images[:3]) and np.array_equal(head.joints, a.joints[:3])
    other = render_poseset(SyntheticConfig(num=3, resolution=64, seed=1))
    assert not np.array_equal(other.images, head.images)


@pytest.mark.parametrize("bad, message", [
    (dict(num=0), "num"), (dict(resolution=16), "resolution"), (dict(margin=0.9), "margin"),
    (dict(distractors=1.5), "probability"), (dict(occluders=-1), "occluders"), (dict(pose_split="test"), "pose_split"),
])
def test_config_rejects_bad_values(bad, message):
    with pytest.raises(ValueError, match=message):
        SyntheticConfig(**bad)


def test_missing_pose_sources_say_what_to_do(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="poses must be"):
        render_poseset(SyntheticConfig(num=1, poses=str(tmp_path / "nope.json")))
    monkeypatch.delenv("POSE_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="POSE_DATA"):
        render_poseset(SyntheticConfig(num=1, poses="mpii"))


# --------------------------------------------------------------------------- visibility


def _standing(r_arm_depth: float) -> Pose:
    """A hand-built frontal person in 128-px crop pixels; the right forearm crosses the chest,
    in front of the torso (negative depth) or behind it (positive depth)."""
    xy = {
        "r_ankle": (58, 112), "r_knee": (58, 92), "r_hip": (58, 72), "l_hip": (70, 72), "l_knee": (70, 92),
        "l_ankle": (70, 112), "pelvis": (64, 72), "thorax": (64, 42), "upper_neck": (64, 36), "head_top": (64, 22),
        "r_wrist": (66, 58), "r_elbow": (50, 60), "r_shoulder": (53, 42), "l_shoulder": (75, 42),
        "l_elbow": (80, 58), "l_wrist": (82, 74),
    }
    depth = np.zeros(16)
    depth[list(idx("r_elbow", "r_wrist"))] = r_arm_depth
    return Pose(joints=np.array([xy[n] for n in MPII_JOINTS], dtype=float), depth=depth,
                annotated=np.ones(16, dtype=bool), forward=np.zeros(2), height=100.0, head_length=14.0)


def _scene(pose: Pose, occluder_at: tuple[float, float] | None = None):
    """Paint ``pose`` on a plain canvas (plus one disc occluder) and read its visibility."""
    rng = np.random.default_rng(0)
    canvas = render.LayeredCanvas(128, TAG_BACKGROUND)
    gray = np.full((128, 128), 128, dtype=np.uint8)
    mats = {k: canvas.add_material(gray, render.colour_ramp(np.zeros(3), np.full(3, 200.0)))
            for k in ("skin", "top", "bottom", "shoe", "hair", "sleeve", "leg")}
    first_own, _ = paint_target(canvas, pose, mats, rng)
    if occluder_at is not None:
        canvas.paint([render.ellipse(np.array(occluder_at), 0.0, 6.0, 6.0)], mats["top"], TAG_OCCLUDER)
    return joint_visibility(canvas.labels(), np.asarray(canvas.layer_tag), first_own, pose.joints, pose.annotated, 2.6)


def test_visibility_of_a_hand_built_scene():
    vis, occ = _scene(_standing(r_arm_depth=-10.0))
    assert vis.all() and (occ == 0).all()  # the forearm lies on the chest: everything shows

    vis, occ = _scene(_standing(r_arm_depth=+30.0))  # forearm behind the torso, painted first
    assert not vis[J["r_wrist"]] and occ[J["r_wrist"]] == 1  # hidden by its own torso
    assert vis[J["r_elbow"]]  # the elbow sticks out beside the torso

    vis, occ = _scene(_standing(r_arm_depth=-10.0), occluder_at=(82, 74))  # an object over the left wrist
    assert not vis[J["l_wrist"]] and occ[J["l_wrist"]] == 2
    assert vis[J["l_elbow"]] and vis[J["head_top"]]

    pose = _standing(-10.0)
    joints = pose.joints.copy()
    joints[J["l_wrist"]] = (140, 74)  # off the crop: truncated by the frame
    vis, occ = _scene(Pose(joints, pose.depth, pose.annotated, pose.forward, pose.height, pose.head_length))
    assert not vis[J["l_wrist"]] and occ[J["l_wrist"]] == 2


def test_only_layers_painted_later_hide_a_joint():
    # The disc around a right wrist shows a 2-px forearm strip and, mostly, torso. The torso
    # hides the wrist only if it was painted after the forearm.
    torso, forearm = synthetic.PARTS.index("torso"), synthetic.PARTS.index("r_forearm")
    wrist = J["r_wrist"]
    points, ann = np.zeros((16, 2)), np.zeros(16, dtype=bool)
    points[wrist], ann[wrist] = (10, 10), True
    for arm_layer, torso_layer, expect_visible in ((2, 1, True), (1, 2, False)):
        labels = np.full((20, 20), torso_layer, dtype=np.uint8)
        labels[:, 9:11] = arm_layer
        tags = np.full(3, TAG_BACKGROUND)
        tags[arm_layer], tags[torso_layer] = forearm, torso
        first_own = np.zeros(16, dtype=np.int64)
        first_own[wrist] = arm_layer
        vis, occ = joint_visibility(labels, tags, first_own, points, ann, 2.6)
        assert vis[wrist] == expect_visible and occ[wrist] == (0 if expect_visible else 1)


def test_visibility_ignores_unannotated_joints():
    pose = _standing(-10.0)
    ann = pose.annotated.copy()
    ann[J["l_wrist"]] = False
    vis, occ = _scene(Pose(pose.joints, pose.depth, ann, pose.forward, pose.height, pose.head_length), (82, 74))
    assert not vis[J["l_wrist"]] and occ[J["l_wrist"]] == 0


def test_occlusion_rates_are_realistic(default_set):
    occluded = (~default_set.visible[default_set.annotated]).mean()
    assert 0.10 <= occluded <= 0.35, occluded  # MPII: 23% of annotated joints are invisible
    assert (default_set.occlusion == 1).mean() > 0.04 and (default_set.occlusion == 2).mean() > 0.04
    quiet = render_poseset(SyntheticConfig(num=60, occluders=0, distractors=0))
    assert (quiet.occlusion == 2).mean() < 0.01  # only the frame can hide a joint then
    assert (quiet.occlusion == 1).mean() > 0.04  # the body still hides itself


def test_head_size_matches_mpii_convention(default_set):
    # MPII: head size = 0.75 × |head top − upper neck| = 0.1 × the person box (lib.data.mpii).
    box = default_set.resolution / default_set.margin
    ratio = default_set.norm / box
    assert 0.085 < np.median(ratio) < 0.115, np.median(ratio)
    seg = np.linalg.norm(default_set.joints[:, J["head_top"]] - default_set.joints[:, J["upper_neck"]], axis=1)
    assert (default_set.norm >= 0.75 * seg - 1e-3).all()  # the head box holds the head segment


def test_person_fills_the_box(default_set):
    box = default_set.resolution / default_set.margin
    extent = default_set.joints.max(1) - default_set.joints.min(1)
    assert 0.5 < np.median(extent.max(1)) / box < 1.05
    centre = (default_set.joints.max(1) + default_set.joints.min(1)) / 2 - (default_set.resolution - 1) / 2
    assert np.abs(np.median(centre, axis=0)).max() < 0.05 * box


# --------------------------------------------------------------------------- the generator


def test_generator_bone_lengths_follow_anatomy():
    rng = np.random.default_rng(0)
    for _ in range(50):
        skel = sample_skeleton(rng, proportion_jitter=0.0)
        for a, b, seg in kinematics.BONES:
            assert np.linalg.norm(skel[a] - skel[b]) == pytest.approx(SEGMENTS[seg], abs=1e-9)
        jittered = sample_skeleton(rng)
        for a, b, seg in kinematics.BONES:
            assert abs(np.linalg.norm(jittered[a] - jittered[b]) / SEGMENTS[seg] - 1) <= 0.1 + 1e-9
    for k in range(50):  # projection only shortens: 2D bone ≤ 3D bone × height
        p = sample_pose(np.random.default_rng(k), proportion_jitter=0.0)
        for a, b, seg in kinematics.BONES:
            assert np.linalg.norm(p.joints[a] - p.joints[b]) <= SEGMENTS[seg] * p.height + 1e-9


def test_generator_joint_angles_stay_in_range():
    def angle(u, v):
        return np.degrees(np.arccos(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v), -1, 1)))

    rng = np.random.default_rng(1)
    for mode in kinematics.MODES:
        for _ in range(40):
            s = sample_skeleton(rng, mode=mode)
            for a, b, c in (idx("r_shoulder", "r_elbow", "r_wrist"), idx("l_hip", "l_knee", "l_ankle")):
                assert angle(s[b] - s[a], s[c] - s[b]) <= 150 + 1e-6  # elbow and knee flexion
            assert angle(s[J["thorax"]] - s[J["pelvis"]], np.array([0, -1.0, 0])) <= 80  # trunk stays upright-ish


def test_generator_views_cover_front_side_and_back():
    facing = np.array([sample_pose(np.random.default_rng(k)).forward for k in range(200)])
    side = np.abs(facing[:, 0])
    assert (side > 0.8).mean() > 0.2 and (side < 0.3).mean() > 0.1


# --------------------------------------------------------------------------- file poses


def test_poses_from_a_saved_poseset(tmp_path):
    src = render_poseset(SyntheticConfig(num=4, seed=7))
    src.annotated[0, J["l_ankle"]] = False  # a missing joint must stay missing
    src.joints[0, J["l_ankle"]] = 0
    src.visible[0, J["l_ankle"]] = False
    path = tmp_path / "poses.npz"
    src.save(path)
    ps = render_poseset(SyntheticConfig(num=8, poses=str(path)))
    assert len(ps) == 8
    for i in range(8):  # every image shows one of the file's poses, exactly where the file has it
        k = next(k for k in range(4) if np.array_equal(ps.annotated[i], src.annotated[k])
                 and np.allclose(ps.joints[i], src.joints[k], atol=1e-3))
        assert ps.joints[i][~src.annotated[k]].sum() == 0
    assert ps.meta["pose_source"] == str(path)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("POSE_DATA"), reason="needs real data: set POSE_DATA to the data folder")
def test_poses_from_mpii():
    from lib.data.mpii import read_mpii

    root = Path(os.environ["POSE_DATA"])
    if not (root / "mpii" / "mpii_annotations.json.gz").is_file():
        pytest.skip(f"no mpii/mpii_annotations.json.gz under POSE_DATA={root}")
    ps = render_poseset(SyntheticConfig(num=40, poses="mpii", pose_split="val"))
    ann = read_mpii(root / "mpii" / "mpii_annotations.json.gz").split("val")
    assert not ps.annotated.all()  # MPII's missing joints stay missing
    masks = {tuple(m) for m in ann.annotated}
    assert all(tuple(m) in masks for m in ps.annotated)
    occluded = (~ps.visible[ps.annotated]).mean()
    assert 0.10 <= occluded <= 0.40, occluded
    box = ps.resolution / ps.margin
    assert np.median(ps.norm / box) == pytest.approx(0.1, rel=0.05)  # MPII's head size is 0.1 box


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.skipif(not os.environ.get("POSE_DATA") or not (Path(os.environ["POSE_DATA"]) / "mpii" / "mpii_annotations.json.gz").is_file(),
                    reason="synthetic-mpii renders MPII's poses: set POSE_DATA to a folder with mpii/mpii_annotations.json.gz")
def test_synthetic_mpii_dataset_renders_the_splits_mpii_poses(tmp_path):
    from lib.data import load_poseset

    train = load_poseset("synthetic-mpii", "train", limit=8, cache_dir=tmp_path)
    val = load_poseset("synthetic-mpii", "val", limit=8, cache_dir=tmp_path)
    assert train.meta["config"]["poses"] == "mpii" and train.meta["config"]["pose_split"] == "train"
    assert val.meta["config"]["pose_split"] == "val" and train.occlusion is not None
    assert not np.array_equal(train.joints, val.joints)
