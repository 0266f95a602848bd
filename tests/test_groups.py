"""Tests of lib.groups: the MI estimator (PBN Eq. 1), affinity, clustering, stability, bias and CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from lib.groups import (
    MPII_SCALE_PX,
    MIConfig,
    bootstrap_coassignment,
    canonical_groups,
    cluster_groups,
    codes_mutual_information,
    compare_groupings,
    lattice_codes,
    main,
    mi_groups,
    mutual_information,
    normalized_affinity,
    shuffled_mi_bias,
)
from lib.joints import MI5_GROUPS, MPII_JOINTS, idx

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ["POSE_DATA"]) if os.environ.get("POSE_DATA") else None
MPII_FILE = DATA / "mpii" / "mpii_annotations.json.gz" if DATA else None
LSPET_FILE = DATA / "lspet" / "joints.mat" if DATA else None

#: Clusters planted in the synthetic poses, deliberately not in index order.
PLANTED = ((0, 3, 7), (1, 4, 5, 9), (2, 6), (8, 10, 11))


def planted_poses(n: int, lattice: int, seed: int = 0, clusters=PLANTED, noise: float = 0.3) -> np.ndarray:
    """Joints of one cluster follow a shared uniform latent position (plus noise); clusters are independent."""
    rng = np.random.default_rng(seed)
    num_joints = 1 + max(max(g) for g in clusters)
    joints = np.zeros((n, num_joints, 2))
    for g in clusters:
        latent = rng.uniform(0, lattice, (n, 2))
        for j in g:
            joints[:, j] = latent + rng.normal(0, noise, (n, 2))
    return joints


def identity_frame(n: int, lattice: int) -> dict:
    """Frame under which a joint at (x, y) lands in cell (floor(y), floor(x)) (with margin 1)."""
    return {"person_size": float(lattice), "center": np.full((n, 2), lattice / 2)}


def naive_mi(a: np.ndarray, b: np.ndarray) -> float:
    """Eq. 1 as a literal double sum over symbol pairs (reference implementation)."""
    n = len(a)
    pab, pa, pb = Counter(zip(a.tolist(), b.tolist())), Counter(a.tolist()), Counter(b.tolist())
    total = 0.0
    for x in pa:
        for y in pb:
            p = pab.get((x, y), 0) / n
            if p > 0:
                total += p * math.log(p / ((pa[x] / n) * (pb[y] / n)))
    return total


# --- lattice codes -----------------------------------------------------------------------------


def test_lattice_codes_row_major_cells_and_missing():
    lattice = 4
    joints = np.array([[[0.5, 0.5], [3.5, 0.5], [0.5, 3.5], [2.2, 1.7]]])
    annotated = np.array([[True, True, True, False]])
    codes = lattice_codes(joints, annotated, lattice, margin=1.0, **identity_frame(1, lattice))
    assert codes.tolist() == [[0, 3, 12, -1]]  # code = row * L + column, row from y


def test_lattice_codes_clip_to_border_and_default_center_ignores_missing():
    joints = np.array([[[-100.0, 0.0], [100.0, 0.0], [0.0, 0.0], [5000.0, 5000.0]]])
    annotated = np.array([[True, True, True, False]])
    # Default centre = mean of the three annotated joints (0, 0); the unannotated outlier is ignored.
    codes = lattice_codes(joints, annotated, 4, margin=1.0, person_size=100.0)
    assert codes.tolist() == [[2 * 4 + 0, 2 * 4 + 3, 2 * 4 + 2, -1]]


def test_lattice_codes_scalar_and_per_pose_size_agree():
    joints = planted_poses(50, 8)
    annotated = np.ones(joints.shape[:2], dtype=bool)
    a = lattice_codes(joints, annotated, 8, person_size=6.0)
    b = lattice_codes(joints, annotated, 8, person_size=np.full(50, 6.0))
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    "joints, annotated, kwargs, message",
    [
        (np.zeros((3, 4)), np.ones((3, 4), bool), {}, "N×J×2"),
        (np.zeros((3, 4, 2)), np.ones((3, 5), bool), {}, "annotated must be"),
        (np.zeros((3, 4, 2)), np.ones((3, 4), int), {}, "boolean"),
        (np.full((3, 4, 2), np.nan), np.ones((3, 4), bool), {}, "not finite"),
        (np.zeros((3, 4, 2)), np.ones((3, 4), bool), {"person_size": 0.0}, "positive"),
        (np.zeros((3, 4, 2)), np.ones((3, 4), bool), {}, "two distinct"),
        (np.zeros((3, 4, 2)), np.ones((3, 4), bool), {"person_size": 1.0, "center": np.full((3, 2), np.nan)}, "center"),
        (np.zeros((3, 4, 2)), np.ones((3, 4), bool), {"person_size": 1.0, "center": np.zeros((2, 2))}, "center must be"),
    ],
)
def test_lattice_codes_rejects_bad_input(joints, annotated, kwargs, message):
    with pytest.raises(ValueError, match=message):
        lattice_codes(joints, annotated, 16, **kwargs)


def test_config_validation():
    with pytest.raises(ValueError, match="lattice"):
        MIConfig(lattice=1)
    with pytest.raises(ValueError, match="margin"):
        MIConfig(margin=0)


# --- mutual information (Eq. 1) ---------------------------------------------------------------


def test_perfectly_dependent_uniform_codes_give_log_symbols():
    symbols = 16
    a = np.tile(np.arange(symbols), 5)
    mi = codes_mutual_information(np.stack([a, a], 1), symbols)
    np.testing.assert_allclose(mi, np.full((2, 2), math.log(symbols)), rtol=1e-12)  # diagonal = entropy


def test_perfectly_dependent_joints_through_the_lattice():
    lattice = 4
    cells = np.arange(lattice * lattice)
    xy = np.stack([cells % lattice + 0.5, cells // lattice + 0.5], 1)
    joints = np.stack([xy, xy + 0.2], 1)  # second joint in the same cell as the first
    annotated = np.ones((len(cells), 2), bool)
    mi = mutual_information(joints, annotated, MIConfig(lattice=lattice, margin=1.0), **identity_frame(len(cells), lattice))
    assert mi[0, 1] == pytest.approx(math.log(lattice**2), rel=1e-12)


def test_function_of_a_variable_has_mi_equal_to_its_entropy():
    a = np.tile(np.arange(4), 10)
    mi = codes_mutual_information(np.stack([a, a // 2], 1), 4)
    assert mi[0, 1] == pytest.approx(math.log(2), rel=1e-12)


def test_exactly_independent_codes_give_zero():
    symbols = 6
    a, b = np.repeat(np.arange(symbols), symbols), np.tile(np.arange(symbols), symbols)
    mi = codes_mutual_information(np.stack([a, b], 1), symbols)
    assert abs(mi[0, 1]) < 1e-12


def test_random_independent_codes_give_nearly_zero():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 4, (100_000, 2))
    assert 0 <= codes_mutual_information(codes, 4)[0, 1] < 1e-3


def test_matches_literal_double_sum_with_missing_joints():
    rng = np.random.default_rng(2)
    latent = rng.integers(0, 9, 300)
    codes = np.stack([latent, (latent + rng.integers(0, 3, 300)) % 9, rng.integers(0, 9, 300)], 1)
    codes[rng.random(codes.shape) < 0.2] = -1
    mi = codes_mutual_information(codes, 9)
    for m in range(3):
        for n in range(3):
            both = (codes[:, m] >= 0) & (codes[:, n] >= 0)
            assert mi[m, n] == pytest.approx(naive_mi(codes[both, m], codes[both, n]), rel=1e-10, abs=1e-12)
    assert np.array_equal(mi, mi.T)


def test_pair_never_annotated_together_is_an_error():
    codes = np.array([[0, -1], [-1, 1], [2, -1]])
    with pytest.raises(ValueError, match="never annotated together"):
        codes_mutual_information(codes, 4)


def test_codes_out_of_range_is_an_error():
    with pytest.raises(ValueError, match="codes must lie"):
        codes_mutual_information(np.array([[0, 9]]), 4)


# --- affinity (Fig. 2(a)) ---------------------------------------------------------------------


def test_normalized_affinity_properties():
    rng = np.random.default_rng(3)
    m = rng.random((6, 6))
    mi = m + m.T + np.diag(np.full(6, 10.0))  # a huge diagonal must not matter
    aff = normalized_affinity(mi)
    off = ~np.eye(6, dtype=bool)
    assert np.all(np.diag(aff) == 0)
    assert aff[off].min() == 0 and aff[off].max() == pytest.approx(1)
    np.testing.assert_allclose(aff, aff.T)
    # Linear: a fixed affine map of the off-diagonal entries.
    lo, hi = mi[off].min(), mi[off].max()
    np.testing.assert_allclose(aff[off], (mi[off] - lo) / (hi - lo))


def test_normalized_affinity_constant_and_errors():
    assert normalized_affinity(np.array([[1.0, 0.3], [0.3, 1.0]])).tolist() == [[0.0, 1.0], [1.0, 0.0]]
    with pytest.raises(ValueError, match="symmetric"):
        normalized_affinity(np.array([[0, 1.0], [2.0, 0]]))
    with pytest.raises(ValueError, match="square"):
        normalized_affinity(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        normalized_affinity(np.array([[0, np.nan], [np.nan, 0]]))


# --- clustering (Fig. 2(b)) -------------------------------------------------------------------


def test_planted_clusters_recovered_exactly_and_deterministically():
    lattice = 8
    joints = planted_poses(3000, lattice)
    annotated = np.ones(joints.shape[:2], bool)
    kwargs = dict(config=MIConfig(lattice=lattice, margin=1.0), **identity_frame(len(joints), lattice))
    groups = mi_groups(joints, annotated, 4, **kwargs)
    assert groups == canonical_groups(PLANTED)
    assert mi_groups(joints, annotated, 4, **kwargs) == groups
    assert all(mi_groups(joints, annotated, 4, seed=s, **kwargs) == groups for s in (1, 2))


def test_planted_clusters_survive_missing_joints():
    lattice = 8
    joints = planted_poses(3000, lattice, seed=4)
    annotated = np.random.default_rng(5).random(joints.shape[:2]) > 0.25
    groups = mi_groups(joints, annotated, 4, MIConfig(lattice=lattice, margin=1.0), **identity_frame(len(joints), lattice))
    assert groups == canonical_groups(PLANTED)


def test_cluster_groups_edge_cases_and_errors():
    m = np.random.default_rng(6).random((5, 5))
    aff = normalized_affinity(m + m.T)
    assert cluster_groups(aff, 1) == ((0, 1, 2, 3, 4),)
    assert cluster_groups(aff, 5) == ((0,), (1,), (2,), (3,), (4,))
    groups = cluster_groups(aff, 2)
    assert groups == canonical_groups(groups) and sorted(j for g in groups for j in g) == list(range(5))
    for k in (0, 6):
        with pytest.raises(ValueError, match="k must be"):
            cluster_groups(aff, k)
    with pytest.raises(ValueError, match="non-negative"):
        cluster_groups(-aff, 2)


def test_compare_groupings():
    a = ((0, 1), (2, 3, 4))
    same = compare_groupings(a, ((4, 3, 2), (1, 0)))
    assert same.same and same.adjusted_rand == pytest.approx(1.0)
    diff = compare_groupings(a, ((0, 2), (1, 3, 4)))
    assert not diff.same and diff.adjusted_rand < 0.5
    with pytest.raises(ValueError, match="two groups"):
        compare_groupings(a, ((0, 1), (1, 2, 3, 4)))
    with pytest.raises(ValueError, match="in no group"):
        compare_groupings(a, ((0, 1), (2, 3)))


# --- stability and bias (beyond the paper) ----------------------------------------------------


def test_bootstrap_coassignment_shape_range_and_planted_structure():
    lattice = 8
    joints = planted_poses(1500, lattice, seed=7)
    annotated = np.ones(joints.shape[:2], bool)
    frame = identity_frame(len(joints), lattice)
    co = bootstrap_coassignment(joints, annotated, 4, MIConfig(lattice=lattice, margin=1.0), n_boot=5, **frame)
    assert co.shape == (12, 12) and np.all((co >= 0) & (co <= 1))
    np.testing.assert_array_equal(np.diag(co), 1)
    np.testing.assert_array_equal(co, co.T)
    expected = np.zeros((12, 12))
    for g in PLANTED:
        expected[np.ix_(g, g)] = 1
    np.testing.assert_array_equal(co, expected)
    again = bootstrap_coassignment(joints, annotated, 4, MIConfig(lattice=lattice, margin=1.0), n_boot=5, **frame)
    np.testing.assert_array_equal(co, again)


def test_shuffled_bias_is_positive_small_and_near_miller_madow():
    symbols_side, n = 4, 4000
    rng = np.random.default_rng(8)
    joints = rng.uniform(0, symbols_side, (n, 3, 2))  # three independent joints, uniform over 16 cells
    annotated = np.ones((n, 3), bool)
    kwargs = dict(config=MIConfig(lattice=symbols_side, margin=1.0), **identity_frame(n, symbols_side))
    bias = shuffled_mi_bias(joints, annotated, n_shuffles=10, **kwargs)
    mi = mutual_information(joints, annotated, **kwargs)
    miller_madow = (16 - 1) ** 2 / (2 * n)  # (K_mn - K_m - K_n + 1) / 2N with every cell occupied
    off = ~np.eye(3, dtype=bool)
    assert np.all(bias[off] > 0) and np.all(bias[off] < 0.05)
    np.testing.assert_allclose(bias[off], miller_madow, rtol=0.25)
    # Independent joints: the plug-in MI is all bias, so MI minus bias is ~0.
    assert np.all(np.abs((mi - bias)[off]) < 0.5 * miller_madow)


def test_shuffled_bias_leaves_dependence_and_is_deterministic():
    lattice = 8
    joints = planted_poses(2000, lattice, seed=9)
    annotated = np.ones(joints.shape[:2], bool)
    kwargs = dict(config=MIConfig(lattice=lattice, margin=1.0), **identity_frame(len(joints), lattice))
    bias = shuffled_mi_bias(joints, annotated, n_shuffles=2, **kwargs)
    corrected = mutual_information(joints, annotated, **kwargs) - bias
    assert corrected[0, 3] > 1.0 and abs(corrected[0, 1]) < 0.02  # same cluster vs different clusters
    np.testing.assert_array_equal(bias, shuffled_mi_bias(joints, annotated, n_shuffles=2, **kwargs))


# --- command line -----------------------------------------------------------------------------


def write_common_layout(path: Path, joints: np.ndarray, scale: float) -> None:
    """A train.json-style file (HRNet / mmpose layout) with 1-based coordinates, as MPII stores them."""
    records = [
        {"image": f"{i:09d}.jpg", "center": [100.0, 100.0], "scale": scale,
         "joints": (pose + 1).tolist(), "joints_vis": [1] * len(pose)}
        for i, pose in enumerate(joints)
    ]
    path.write_text(json.dumps(records))


@pytest.mark.slow
def test_cli_json_on_a_small_common_layout_file(tmp_path):
    lattice = 8
    clusters = ((0, 1, 4, 5), (2, 3, 6), (7, 8, 9, 12, 13), (10, 11), (14, 15))
    joints = planted_poses(600, 160.0, seed=10, clusters=clusters, noise=8.0)
    path = tmp_path / "train.json"
    write_common_layout(path, joints, scale=1.0)
    out = subprocess.run(
        [sys.executable, "-m", "lib.groups", str(path), "-k", "5", "--lattice", str(lattice), "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=True,
    ).stdout.strip().splitlines()
    groups = tuple(tuple(g) for g in json.loads(out[-1]))
    assert groups == canonical_groups(clusters)
    assert out[1] == "group 1: " + ", ".join(MPII_JOINTS[j] for j in clusters[0])
    assert len([line for line in out if line.startswith("group ")]) == 5
    # The API on the same arrays (read back as the CLI reads them) gives the same answer.
    api = mi_groups(joints, np.ones(joints.shape[:2], bool), 5, MIConfig(lattice=lattice), person_size=MPII_SCALE_PX)
    assert api == groups


def test_cli_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path / "missing.json"), "-k", "5"])
    assert e.value.code == 2 and "not found" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SystemExit):
        main([str(bad), "-k", "5"])
    assert "cannot read" in capsys.readouterr().err
    good = tmp_path / "valid.json"
    write_common_layout(good, planted_poses(50, 160.0, clusters=((0, 1, 2, 3, 4, 5, 6, 7), tuple(range(8, 16)))), 1.0)
    with pytest.raises(SystemExit):
        main([str(good), "-k", "17"])
    assert "-k must be between 1 and 16" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(good), "-k", "2", "--split", "train"])  # valid.json holds validation people only
    assert "no train people" in capsys.readouterr().err


# --- real data ---------------------------------------------------------------------------------

needs_mpii = pytest.mark.skipif(
    MPII_FILE is None or not MPII_FILE.is_file(),
    reason="real MPII annotations absent: set POSE_DATA to the data root holding mpii/mpii_annotations.json.gz",
)


@pytest.fixture(scope="module")
def mpii_train():
    from lib.data.mpii import read_mpii

    ann = read_mpii(MPII_FILE).split("train")
    return ann.joints, ann.annotated, MPII_SCALE_PX * ann.scale


@pytest.mark.slow
@needs_mpii
@pytest.mark.realdata
def test_mpii_k5_reproduces_fig2b(mpii_train):
    joints, annotated, size = mpii_train
    assert len(joints) == 22_246
    groups = mi_groups(joints, annotated, 5, person_size=size)
    assert groups == canonical_groups(MI5_GROUPS)
    knees_ankles = set(idx("r_knee", "l_knee", "r_ankle", "l_ankle"))
    assert any(knees_ankles <= set(g) for g in groups)


@pytest.mark.slow
@needs_mpii
@pytest.mark.realdata
def test_mpii_k6_detaches_head_and_neck_as_sec31_says(mpii_train):
    joints, annotated, size = mpii_train
    groups = mi_groups(joints, annotated, 6, person_size=size)
    assert idx("upper_neck", "head_top") in groups
    assert idx("thorax", "r_shoulder", "l_shoulder") in groups
    assert idx("r_ankle", "r_knee", "l_knee", "l_ankle") in groups


@pytest.mark.slow
@needs_mpii
@pytest.mark.realdata
@pytest.mark.parametrize("k", [2, 6, 8])
def test_stored_mi_groups_match_the_mpii_clustering(mpii_train, k):
    from lib.joints import named_groups

    joints, annotated, size = mpii_train
    assert mi_groups(joints, annotated, k, person_size=size) == canonical_groups(named_groups(f"mi{k}"))


@pytest.mark.slow
@needs_mpii
@pytest.mark.realdata
def test_mpii_k5_is_stable_under_bootstrap(mpii_train):
    joints, annotated, size = mpii_train
    co = bootstrap_coassignment(joints, annotated, 5, person_size=size, n_boot=3)
    knees_ankles = idx("r_knee", "l_knee", "r_ankle", "l_ankle")
    assert np.all(co[np.ix_(knees_ankles, knees_ankles)] == 1)
    assert co[idx("r_wrist")[0], idx("l_wrist")[0]] == 0


@pytest.mark.skipif(LSPET_FILE is None or not LSPET_FILE.is_file(), reason="LSP Extended absent: set POSE_DATA (lspet/joints.mat)")
@pytest.mark.realdata
def test_cli_on_lsp_extended_groups_knees_with_ankles(capsys):
    assert main([str(LSPET_FILE), "-k", "5", "--split", "all", "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert "10000 poses" in out[0]
    assert [0, 1, 4, 5] in json.loads(out[-1])  # LSP order: r/l ankle 0/5, r/l knee 1/4
