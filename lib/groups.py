"""Mutual-information grouping of joints (PBN Sec. 3.1, Eq. 1, Fig. 2), its stability and its bias.

PBN treats each joint's location l_m as a random variable on a coarse lattice, estimates the
pairwise mutual information I(l_m, l_n) (Eq. 1) with histograms over the annotated poses,
normalises the off-diagonal matrix to [0, 1] (Fig. 2(a)) and splits the joints into k groups by
spectral clustering of that affinity (Fig. 2(b): k = 5 gives the "Stat" groups of Sec. 4.3).

The paper leaves the normalisation open ("we scale the poses and center them in a normalized
spatial domain, i.e., a 16 × 16 lattice", using MPII's "scales and centers"). Here a pose is
*centred on the mean of its annotated joints* and *scaled by the person's size* (MPII: 200·scale
px, the person height its annotators gave), the lattice spanning ``margin`` × that size. On the
22,246 MPII training poses this reproduces both results the text states (k = 5: Fig. 2(b), knees
and ankles together; k = 6: head and neck detach from thorax and shoulders), stably under
bootstrap. Centring on MPII's ``objpos`` instead reproduces k = 5 but at k = 6 splits the legs
into left and right; scaling by the joints' own extent (bounding box, RMS radius) reproduces
neither, because that extent changes with the pose itself (a crouching person gets stretched).
Pass ``center=`` / ``person_size=`` to try those alternatives.

Beyond the paper: :func:`bootstrap_coassignment` (how often two joints share a group when the
poses are resampled) and :func:`shuffled_mi_bias` (the plug-in estimator's upward bias at this
sample size, from MI after independently permuting one joint's samples). All MI is in nats.

Command line: ``python -m lib.groups ANNOTATIONS -k K [--lattice L] [--split train|val|all] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from lib.joints import LSP_JOINTS, MPII_JOINTS, Groups

#: MPII's ``scale`` is the person height divided by this many pixels.
MPII_SCALE_PX = 200.0


@dataclass(frozen=True)
class MIConfig:
    """How poses become lattice symbols (PBN Sec. 3.1).

    Attributes:
        lattice: cells per side L; each joint location becomes one of L² symbols. PBN uses 16:
            coarse enough to be robust to small pose perturbations and to the sample size.
        margin: lattice side / person size. 1.25 is the person box of ``lib.data``'s crops
            (200·scale·1.25 px for MPII); it clips 0.6% of MPII training joints to the border
            cells (3.5% at margin 1.0), with the same groups at k = 2..8.
    """

    lattice: int = 16
    margin: float = 1.25

    def __post_init__(self) -> None:
        if not (isinstance(self.lattice, (int, np.integer)) and self.lattice >= 2):
            raise ValueError(f"MIConfig.lattice must be an integer >= 2, got {self.lattice!r}")
        if not self.margin > 0:
            raise ValueError(f"MIConfig.margin must be positive, got {self.margin!r}")


@dataclass(frozen=True)
class GroupingComparison:
    """Agreement of two groupings of the same joints: exact set equality and adjusted Rand index."""

    same: bool
    adjusted_rand: float


def _check_poses(joints: np.ndarray, annotated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    joints = np.asarray(joints, dtype=np.float64)
    annotated = np.asarray(annotated)
    if joints.ndim != 3 or joints.shape[2] != 2:
        raise ValueError(f"joints must be N×J×2, got shape {joints.shape}")
    if annotated.shape != joints.shape[:2]:
        raise ValueError(f"annotated must be N×J = {joints.shape[:2]}, got {annotated.shape}")
    if annotated.dtype != bool:
        raise ValueError(f"annotated must be a boolean mask, got dtype {annotated.dtype}; use annotated > 0")
    bad = annotated & ~np.isfinite(joints).all(-1)
    if bad.any():
        n, j = np.argwhere(bad)[0]
        raise ValueError(f"annotated joint {j} of pose {n} is not finite; mark it unannotated")
    return joints, annotated


def lattice_codes(
    joints: np.ndarray,
    annotated: np.ndarray,
    lattice: int = 16,
    *,
    margin: float = 1.25,
    person_size: np.ndarray | float | None = None,
    center: np.ndarray | None = None,
) -> np.ndarray:
    """Each annotated joint's lattice cell as one symbol ``row·L + column``; ``N×J`` int64, −1 where unannotated.

    A pose is centred on ``center`` (default: the mean of its annotated joints) and the
    lattice's side is ``margin × person_size``; joints beyond it fall into the border cells.

    Args:
        joints: ``N×J×2`` (x, y) positions, any units.
        annotated: ``N×J`` bool.
        lattice: L, cells per side.
        margin: lattice side / person size.
        person_size: per-pose person size (``N``) or one size for all, in the joints' units;
            for MPII ``MPII_SCALE_PX * scale``. ``None``: one size for all poses, the median
            over poses of the annotated joints' bounding-box longer side. That suits datasets
            whose people are already scale-normalised (LSP Extended: ~150 px people); pass
            per-pose sizes otherwise.
        center: ``N×2`` pose centres; default the mean of each pose's annotated joints, which,
            unlike a box centre, moves little when an extreme joint (an ankle) is missing.
    """
    joints, annotated = _check_poses(joints, annotated)
    if not (isinstance(lattice, (int, np.integer)) and lattice >= 2):
        raise ValueError(f"lattice must be an integer >= 2, got {lattice!r}")
    n = len(joints)
    masked = np.where(annotated[..., None], joints, np.nan)
    has_any = annotated.any(1)
    if center is None:
        center = np.zeros((n, 2))
        center[has_any] = np.nanmean(masked[has_any], axis=1)
    center = np.asarray(center, dtype=np.float64)
    if center.shape != (n, 2):
        raise ValueError(f"center must be N×2 = {(n, 2)}, got {center.shape}")
    if not np.isfinite(center[has_any]).all():
        raise ValueError("center is not finite for some poses with annotated joints; give every pose a centre")
    if person_size is None:
        lo, hi = np.nanmin(masked[has_any], 1), np.nanmax(masked[has_any], 1)
        extent = (hi - lo).max(1)
        if not (extent > 0).any():
            raise ValueError("no pose has two distinct annotated joints; pass person_size explicitly")
        person_size = float(np.median(extent[extent > 0]))
    size = np.broadcast_to(np.asarray(person_size, dtype=np.float64), (n,))
    if not (np.isfinite(size) & (size > 0)).all():
        raise ValueError("person_size must be positive and finite for every pose; drop poses without a size")
    u = (joints - center[:, None, :]) / (margin * size)[:, None, None] + 0.5
    cell = np.clip(np.floor(np.nan_to_num(u) * lattice), 0, lattice - 1).astype(np.int64)
    return np.where(annotated, cell[..., 1] * lattice + cell[..., 0], -1)


def _plugin_mi(a: np.ndarray, b: np.ndarray, symbols: int) -> float:
    """Eq. 1 with histogram (plug-in) probabilities over paired samples ``a``, ``b``, in nats."""
    n = len(a)
    joint = np.bincount(a * symbols + b, minlength=symbols * symbols)
    cells = np.flatnonzero(joint)
    count = joint[cells].astype(np.float64)
    pa = np.bincount(a, minlength=symbols).astype(np.float64)
    pb = np.bincount(b, minlength=symbols).astype(np.float64)
    return float(np.sum(count * np.log(count * n / (pa[cells // symbols] * pb[cells % symbols]))) / n)


def codes_mutual_information(codes: np.ndarray, symbols: int) -> np.ndarray:
    """Pairwise plug-in mutual information (PBN Eq. 1, nats) of ``N×J`` symbols in ``[0, symbols)``, −1 = missing.

    Entry (m, n) uses only the poses where both joints are present, with p(l_m, l_n) and the
    marginals from the same histogram (so 0 ≤ I ≤ min(H_m, H_n)); the diagonal is I(l_m, l_m) =
    H(l_m), the entropy over the poses where m is present. Raises ``ValueError`` if two joints
    are never present together (their MI is undefined).
    """
    codes = np.asarray(codes)
    if codes.ndim != 2 or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"codes must be an N×J integer array, got {codes.dtype} {codes.shape}")
    if codes.size and (codes.max() >= symbols or codes.min() < -1):
        raise ValueError(f"codes must lie in [-1, {symbols}); got [{codes.min()}, {codes.max()}]")
    present = codes >= 0
    num_joints = codes.shape[1]
    mi = np.zeros((num_joints, num_joints))
    for m in range(num_joints):
        for n in range(m, num_joints):
            both = present[:, m] & present[:, n]
            if not both.any():
                raise ValueError(f"joints {m} and {n} are never annotated together; their MI is undefined")
            mi[m, n] = mi[n, m] = _plugin_mi(codes[both, m], codes[both, n], symbols)
    return mi


def mutual_information(
    joints: np.ndarray,
    annotated: np.ndarray,
    config: MIConfig = MIConfig(),
    *,
    person_size: np.ndarray | float | None = None,
    center: np.ndarray | None = None,
) -> np.ndarray:
    """``J×J`` mutual information I(l_m, l_n) of joint locations on the lattice (PBN Eq. 1), in nats.

    See :func:`lattice_codes` for the normalisation and :func:`codes_mutual_information` for
    the estimator (diagonal = entropies).
    """
    codes = lattice_codes(joints, annotated, config.lattice, margin=config.margin, person_size=person_size, center=center)
    return codes_mutual_information(codes, config.lattice**2)


def normalized_affinity(mi: np.ndarray) -> np.ndarray:
    """PBN Fig. 2(a): the diagonal removed (set to 0) and the off-diagonal entries mapped linearly onto [0, 1].

    The smallest off-diagonal MI becomes 0 and the largest 1; if all are equal (e.g. two joints)
    every off-diagonal entry is 1.
    """
    mi = np.asarray(mi, dtype=np.float64)
    if mi.ndim != 2 or mi.shape[0] != mi.shape[1] or len(mi) < 2:
        raise ValueError(f"mi must be a square J×J matrix with J >= 2, got shape {mi.shape}")
    if not np.isfinite(mi).all():
        raise ValueError("mi contains NaN or infinite entries")
    if not np.allclose(mi, mi.T, rtol=1e-9, atol=1e-12):
        raise ValueError("mi must be symmetric; mutual information is I(l_m, l_n) = I(l_n, l_m)")
    off = ~np.eye(len(mi), dtype=bool)
    lo, hi = mi[off].min(), mi[off].max()
    out = np.ones_like(mi) if hi == lo else (mi - lo) / (hi - lo)
    out[~off] = 0.0
    return out


def canonical_groups(groups: Sequence[Sequence[int]]) -> Groups:
    """``groups`` with each group sorted and the groups sorted by their first joint, so equal groupings compare equal."""
    return tuple(sorted(tuple(sorted(int(j) for j in g)) for g in groups))


def cluster_groups(affinity: np.ndarray, k: int, seed: int = 0) -> Groups:
    """Split the joints into ``k`` groups by spectral clustering of ``affinity`` (PBN Fig. 2(b), ref. [9]).

    scikit-learn's normalised spectral clustering on the precomputed affinity, k-means label
    assignment, fixed ``seed``: deterministic. ``k = 1`` and ``k = J`` are answered directly.
    Returns canonical groups (:func:`canonical_groups`).
    """
    from sklearn.cluster import SpectralClustering  # imported here: sklearn is slow to import

    affinity = np.asarray(affinity, dtype=np.float64)
    num_joints = len(affinity)
    if affinity.shape != (num_joints, num_joints) or not np.isfinite(affinity).all() or (affinity < 0).any():
        raise ValueError(f"affinity must be a square, finite, non-negative matrix, got shape {affinity.shape}")
    if not (isinstance(k, (int, np.integer)) and 1 <= k <= num_joints):
        raise ValueError(f"k must be an integer in [1, {num_joints}] for {num_joints} joints, got {k!r}")
    if k == 1:
        return (tuple(range(num_joints)),)
    if k == num_joints:
        return tuple((j,) for j in range(num_joints))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "graph is not fully connected" for sparse toy affinities
        labels = SpectralClustering(k, affinity="precomputed", random_state=seed, assign_labels="kmeans").fit_predict(affinity)
    groups = canonical_groups(np.flatnonzero(labels == c) for c in np.unique(labels))
    if len(groups) != k:
        raise RuntimeError(f"spectral clustering returned {len(groups)} groups instead of {k}; try another seed")
    return groups


def mi_groups(
    joints: np.ndarray,
    annotated: np.ndarray,
    k: int,
    config: MIConfig = MIConfig(),
    *,
    person_size: np.ndarray | float | None = None,
    center: np.ndarray | None = None,
    seed: int = 0,
) -> Groups:
    """PBN Sec. 3.1 end to end: MI (Eq. 1) → normalised affinity (Fig. 2(a)) → ``k`` spectral groups (Fig. 2(b))."""
    mi = mutual_information(joints, annotated, config, person_size=person_size, center=center)
    return cluster_groups(normalized_affinity(mi), k, seed)


def bootstrap_coassignment(
    joints: np.ndarray,
    annotated: np.ndarray,
    k: int,
    config: MIConfig = MIConfig(),
    *,
    person_size: np.ndarray | float | None = None,
    center: np.ndarray | None = None,
    n_boot: int = 50,
    seed: int = 0,
) -> np.ndarray:
    """``J×J`` fraction of ``n_boot`` pose resamples (with replacement) in which joints m and n share a group.

    Not in the paper: it shows which of Fig. 2(b)'s groups are properties of the data and which
    are accidents of one sample. Each pose's frame (centre, size) travels with it. The
    clustering seed is fixed, so only the resampling varies.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    codes = lattice_codes(joints, annotated, config.lattice, margin=config.margin, person_size=person_size, center=center)
    rng = np.random.default_rng(seed)
    num_joints = codes.shape[1]
    together = np.zeros((num_joints, num_joints))
    for _ in range(n_boot):
        sample = codes[rng.integers(0, len(codes), len(codes))]
        groups = cluster_groups(normalized_affinity(codes_mutual_information(sample, config.lattice**2)), k)
        for g in groups:
            together[np.ix_(g, g)] += 1
    return together / n_boot


def shuffled_mi_bias(
    joints: np.ndarray,
    annotated: np.ndarray,
    config: MIConfig = MIConfig(),
    *,
    person_size: np.ndarray | float | None = None,
    center: np.ndarray | None = None,
    n_shuffles: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """``J×J`` plug-in MI after permuting joint n's samples against joint m's, averaged over ``n_shuffles``.

    Permuting makes the pair independent while keeping both marginals and the sample size, so
    this is the estimator's upward bias at this sample size (true MI 0); ``mi - bias`` is a
    bias-corrected MI. It is close to the Miller–Madow value (K_mn − K_m − K_n + 1) / 2N with K
    the occupied cells; on MPII at L = 16 it is a sizeable fraction of the weak pairs' MI.
    The diagonal pairs a joint with a permuted copy of itself.
    """
    if n_shuffles < 1:
        raise ValueError(f"n_shuffles must be >= 1, got {n_shuffles}")
    codes = lattice_codes(joints, annotated, config.lattice, margin=config.margin, person_size=person_size, center=center)
    symbols = config.lattice**2
    present = codes >= 0
    rng = np.random.default_rng(seed)
    num_joints = codes.shape[1]
    bias = np.zeros((num_joints, num_joints))
    for m in range(num_joints):
        for n in range(m, num_joints):
            both = present[:, m] & present[:, n]
            if not both.any():
                raise ValueError(f"joints {m} and {n} are never annotated together; their MI is undefined")
            a, b = codes[both, m], codes[both, n]
            values = [_plugin_mi(a, rng.permutation(b), symbols) for _ in range(n_shuffles)]
            bias[m, n] = bias[n, m] = float(np.mean(values))
    return bias


def group_labels(groups: Sequence[Sequence[int]], num_joints: int) -> np.ndarray:
    """``num_joints`` int labels, joint j → index of its group; error unless ``groups`` partition the joints."""
    labels = np.full(num_joints, -1)
    for i, g in enumerate(groups):
        for j in g:
            if not 0 <= j < num_joints:
                raise ValueError(f"joint {j} out of range for {num_joints} joints")
            if labels[j] >= 0:
                raise ValueError(f"joint {j} is in two groups; a grouping must be a partition")
            labels[j] = i
    if (labels < 0).any():
        raise ValueError(f"joints {np.flatnonzero(labels < 0).tolist()} are in no group")
    return labels


def compare_groupings(a: Sequence[Sequence[int]], b: Sequence[Sequence[int]]) -> GroupingComparison:
    """Exact equality (as sets of sets) and adjusted Rand index (1 = identical, ~0 = chance) of two partitions."""
    from sklearn.metrics import adjusted_rand_score

    num_joints = 1 + max(max(g) for g in (*a, *b))
    la, lb = group_labels(a, num_joints), group_labels(b, num_joints)
    return GroupingComparison(canonical_groups(a) == canonical_groups(b), float(adjusted_rand_score(la, lb)))


# ---------------------------------------------------------------------------------------------
# Command line


def _load(path: Path, split: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, tuple[str, ...], str]:
    """``(joints, annotated, person_size or None, joint names, split used)`` from an MPII json or LSP .mat."""
    if path.suffix == ".mat":
        from lib.data.lsp import lspet_split, read_lsp

        ann = read_lsp(path)
        split = split or "train"
        if split != "all":
            ann = lspet_split(ann, split)
        return ann.joints, ann.annotated, None, LSP_JOINTS, split
    from lib.data.mpii import read_mpii

    ann = read_mpii(path)
    if split is None:
        split = "train" if ann.is_validation.any() and (~ann.is_validation).any() else "all"
    if split != "all":
        ann = ann.split(split)
        if len(ann) == 0:
            raise ValueError(f"{path} has no {split} people; use --split all (or the other split)")
    return ann.joints, ann.annotated, MPII_SCALE_PX * ann.scale, MPII_JOINTS, split


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lib.groups``: print the MI groups of an annotation file, one line per group.

    A missing, empty, truncated or garbage annotation file ends in one line on stderr (exit 2).
    """
    from lib.errors import DataFileError, report_error

    parser = argparse.ArgumentParser(
        prog="python -m lib.groups",
        description="Mutual-information joint groups (PBN Sec. 3.1) of an MPII json (either layout) or LSP joints.mat.",
    )
    parser.add_argument("annotations", type=Path, help="mpii_annotations.json(.gz), train.json/valid.json, or joints.mat")
    parser.add_argument("-k", type=int, required=True, help="number of groups, 1..J")
    parser.add_argument("--lattice", type=int, default=MIConfig.lattice, help="lattice cells per side (default 16)")
    parser.add_argument("--split", choices=("train", "val", "all"), default=None,
                        help="people to use (default: train when the file holds both splits, else all)")
    parser.add_argument("--json", action="store_true",
                        help="last line: the groups as a JSON list of lists of joint indices in the file's own joint order")
    args = parser.parse_args(argv)
    if args.lattice < 2:
        parser.error(f"--lattice must be >= 2, got {args.lattice}")
    if not args.annotations.is_file():
        raise SystemExit(report_error(f"annotation file {args.annotations} not found; give the path of "
                                      "mpii_annotations.json(.gz), train.json/valid.json or joints.mat"))
    try:
        joints, annotated, person_size, names, split = _load(args.annotations, args.split)
    except DataFileError as e:  # names the file, the problem and the fix: one line, no traceback
        raise SystemExit(report_error(f"cannot read {e}")) from None
    except (ValueError, OSError) as e:
        raise SystemExit(report_error(f"cannot read {args.annotations}: {e}")) from None
    if not 1 <= args.k <= len(names):
        parser.error(f"-k must be between 1 and {len(names)} (the file's joints), got {args.k}")
    start = time.perf_counter()
    groups = mi_groups(joints, annotated, args.k, MIConfig(lattice=args.lattice), person_size=person_size)
    seconds = time.perf_counter() - start
    print(f"# {len(joints)} poses ({split}) of {args.annotations.name}, lattice {args.lattice}, k {args.k}, {seconds:.2f} s")
    for i, g in enumerate(groups, 1):
        print(f"group {i}: " + ", ".join(names[j] for j in g))
    if args.json:
        print(json.dumps([list(g) for g in groups]))
    return 0


if __name__ == "__main__":
    from lib.errors import run_main

    sys.exit(run_main(main))
