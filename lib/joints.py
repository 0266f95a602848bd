"""Joint definitions shared by every study: names, orders, flip pairs, groups and splits.

Everything here is data. Joint indices always refer to MPII's official 16-joint order
unless a name says otherwise (``LSP_*``), so that groups and splits written once apply
to every dataset through :data:`LSP_TO_MPII`.
"""

from __future__ import annotations

from typing import Sequence

Groups = tuple[tuple[int, ...], ...]

#: MPII's official joint order (0 right ankle ... 15 left wrist).
MPII_JOINTS: tuple[str, ...] = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle",
    "pelvis", "thorax", "upper_neck", "head_top",
    "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
)
NUM_MPII_JOINTS = len(MPII_JOINTS)

#: Left/right pairs swapped by a horizontal flip (MPII order).
MPII_FLIP_PAIRS: tuple[tuple[int, int], ...] = ((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13))

#: Leeds Sports Pose order (LSP and LSP Extended ``joints.mat``).
LSP_JOINTS: tuple[str, ...] = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle",
    "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
    "upper_neck", "head_top",
)
NUM_LSP_JOINTS = len(LSP_JOINTS)

#: ``LSP_TO_MPII[i]`` is the MPII index of LSP joint ``i``. LSP's "neck" is MPII's upper neck.
LSP_TO_MPII: tuple[int, ...] = tuple(MPII_JOINTS.index(n) for n in LSP_JOINTS)

#: Left/right pairs in LSP order.
LSP_FLIP_PAIRS: tuple[tuple[int, int], ...] = ((0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9))

#: MPII joints LSP lacks (they exist only as midpoints: pelvis of the hips, thorax of the shoulders).
MPII_NOT_IN_LSP: tuple[int, ...] = (6, 7)


def idx(*names: str) -> tuple[int, ...]:
    """MPII indices of joint names, e.g. ``idx("l_knee", "r_knee")``."""
    return tuple(MPII_JOINTS.index(n) for n in names)


#: The handcrafted body-structure grouping of PBN Sec. 3.1 (six groups, "Body" in Fig. 5(d)).
BODY_GROUPS: Groups = (
    idx("head_top", "upper_neck", "thorax"),
    idx("l_wrist", "l_elbow", "l_shoulder"),
    idx("r_wrist", "r_elbow", "r_shoulder"),
    idx("l_knee", "l_ankle"),
    idx("r_knee", "r_ankle"),
    idx("l_hip", "r_hip", "pelvis"),
)

#: The five mutual-information groups of PBN Fig. 2(b) ("Stat" in Fig. 5(d)), read from the
#: text of Sec. 3.1 and 4.3: knees and ankles together (purple); head, neck, thorax and both
#: shoulders (yellow, split into head+neck and shoulders+thorax at k=6); hips with the pelvis;
#: each elbow with its wrist. Kept as constants for use without annotations; ``lib.groups``
#: recomputes them from data.
MI5_GROUPS: Groups = (
    idx("r_ankle", "r_knee", "l_knee", "l_ankle"),
    idx("r_hip", "l_hip", "pelvis"),
    idx("thorax", "upper_neck", "head_top", "r_shoulder", "l_shoulder"),
    idx("r_elbow", "r_wrist"),
    idx("l_elbow", "l_wrist"),
)

#: PBN Fig. 5(f): each shoulder also belongs to its arm's group (heatmaps averaged over branches).
MI5_OVERLAP_GROUPS: Groups = (
    MI5_GROUPS[0],
    MI5_GROUPS[1],
    MI5_GROUPS[2],
    idx("r_shoulder", "r_elbow", "r_wrist"),
    idx("l_shoulder", "l_elbow", "l_wrist"),
)

#: The ten hard joints of PBN Sec. 4.3 (ankles, knees, hips, wrists, elbows).
HARD_JOINTS: tuple[int, ...] = idx(
    "r_ankle", "l_ankle", "r_knee", "l_knee", "r_hip", "l_hip", "r_wrist", "l_wrist", "r_elbow", "l_elbow"
)

#: Upper and lower body for the negative-transfer ablation of PBN Sec. 4.3.
UPPER_BODY: tuple[int, ...] = idx(
    "thorax", "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist"
)
LOWER_BODY: tuple[int, ...] = idx("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis")
ANKLES: tuple[int, ...] = idx("r_ankle", "l_ankle")

#: Columns of the papers' per-joint tables (PBN Tables 1-5): name -> MPII joints averaged.
TABLE_COLUMNS: dict[str, tuple[int, ...]] = {
    "Head": idx("upper_neck", "head_top"),
    "Sho.": idx("r_shoulder", "l_shoulder"),
    "Elb.": idx("r_elbow", "l_elbow"),
    "Wri.": idx("r_wrist", "l_wrist"),
    "Hip": idx("r_hip", "l_hip"),
    "Knee": idx("r_knee", "l_knee"),
    "Ank.": idx("r_ankle", "l_ankle"),
}

#: Joints left out of the MPII "Mean" (pelvis and thorax), as the official evaluation does.
MEAN_EXCLUDED: tuple[int, ...] = idx("pelvis", "thorax")

_HEAD, _NECK = idx("head_top"), idx("upper_neck")
_SHO, _ELB, _WRI = idx("r_shoulder", "l_shoulder"), idx("r_elbow", "l_elbow"), idx("r_wrist", "l_wrist")
_HIP, _KNEE, _ANK = idx("r_hip", "l_hip"), idx("r_knee", "l_knee"), idx("r_ankle", "l_ankle")
_PELVIS, _THORAX = idx("pelvis"), idx("thorax")

#: KPTransfer Table 1: split -> (S1, S2), each 8 MPII joints. Split (d)'s S1 and S2 share the
#: elbows and knees exactly as Table 1 lists them (Sec. 3.2 allows S1 and S2 to intersect).
KPTRANSFER_SPLITS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "a": (_HEAD + _NECK + _SHO + _PELVIS + _THORAX + _HIP, _KNEE + _ANK + _WRI + _ELB),
    "b": (_HEAD + _NECK + _SHO + _ELB + _HIP, _KNEE + _ANK + _WRI + _PELVIS + _THORAX),
    "c": (_HEAD + _NECK + _SHO + _ELB + _KNEE, _WRI + _ANK + _HIP + _PELVIS + _THORAX),
    "d": (_KNEE + _ANK + _WRI + _ELB, _HEAD + _NECK + _ELB + _KNEE + _PELVIS + _THORAX),
}


def validate_groups(groups: Sequence[Sequence[int]], num_joints: int, *, allow_overlap: bool = True) -> Groups:
    """Check that ``groups`` cover every joint ``0..num_joints-1`` with valid indices.

    Raises ``ValueError`` naming the problem (empty group, index out of range, joint in no
    group, or overlap when ``allow_overlap`` is false).
    """
    out = tuple(tuple(int(j) for j in g) for g in groups)
    seen: list[int] = []
    for g in out:
        if not g:
            raise ValueError("empty joint group; every group needs at least one joint")
        bad = [j for j in g if not 0 <= j < num_joints]
        if bad:
            raise ValueError(f"joint indices {bad} out of range for {num_joints} joints")
        if len(set(g)) != len(g):
            raise ValueError(f"group {g} lists a joint twice")
        seen.extend(g)
    missing = sorted(set(range(num_joints)) - set(seen))
    if missing:
        raise ValueError(f"joints {missing} belong to no group; every joint needs a branch")
    if not allow_overlap and len(seen) != len(set(seen)):
        raise ValueError("groups overlap but overlap was not allowed")
    return out


def restrict_groups(groups: Sequence[Sequence[int]], joints: Sequence[int]) -> Groups:
    """Re-index MPII ``groups`` to a joint subset ``joints`` (dropping emptied groups).

    Used when a model predicts only some joints (KPTransfer subsets, the negative-transfer
    ablation, LSP's 14 joints via :data:`LSP_TO_MPII`): group membership is kept, indices
    become positions in ``joints``.
    """
    pos = {j: i for i, j in enumerate(joints)}
    out = tuple(tuple(pos[j] for j in g if j in pos) for g in groups)
    return tuple(g for g in out if g)


#: Spectral clustering of the MI matrix of the 22,246 MPII training poses for the other group
#: counts of PBN Fig. 5(e), as ``python -m lib.groups mpii_annotations.json.gz -k K`` prints them
#: (16x16 lattice); ``tests/test_groups.py`` recomputes them when the annotations are at hand.
MI2_GROUPS: Groups = ((0, 1, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15), (2, 3, 6))
MI6_GROUPS: Groups = ((0, 1, 4, 5), (2, 3, 6), (7, 12, 13), (8, 9), (10, 11), (14, 15))
MI8_GROUPS: Groups = ((0, 1), (2, 3, 6), (4, 5), (7, 13), (8, 9), (10, 11), (12,), (14, 15))
#: Sixteen groups: one branch per joint.
MI16_GROUPS: Groups = tuple((j,) for j in range(NUM_MPII_JOINTS))

NAMED_GROUPS: dict[str, Groups] = {
    "body": BODY_GROUPS,
    "mi2": MI2_GROUPS,
    "mi5": MI5_GROUPS,
    "mi5_overlap": MI5_OVERLAP_GROUPS,
    "mi6": MI6_GROUPS,
    "mi8": MI8_GROUPS,
    "mi16": MI16_GROUPS,
}


def named_groups(name: str) -> Groups:
    """Groups by name (a key of :data:`NAMED_GROUPS`); a clear error for unknown names."""
    try:
        return NAMED_GROUPS[name]
    except KeyError:
        raise ValueError(f"unknown groups {name!r}; choose one of {sorted(NAMED_GROUPS)}") from None
