"""Pictures of what the network is trained on: augmented samples, and occluded joints by cause.

:func:`preview` draws from the exact tensors :func:`lib.data.augment.make_batch` returns (inputs
and heatmap joints mapped back to input pixels), so a wrong flip relabelling, a joint/pixel
misalignment or a wrong visibility flag shows up at a glance. Right joints are red, left blue,
centre green; visible joints are filled, invisible (annotated but occluded) joints hollow.
:func:`occlusion_samples` draws stored crops with each joint's occlusion cause
(``PoseSet.occlusion``, PBN Fig. 7's two cases): self-occluded joints hollow, other-occluded
joints crosses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure  # no pyplot: writes files without touching the global backend

from lib.data.augment import PBN_AUGMENT, AugmentConfig, DeviceData, make_batch
from lib.data.poseset import PoseSet
from lib.heatmaps import to_input
from lib.joints import MPII_JOINTS, idx
from lib.paper import OCCLUSION_CODES

#: Limbs in MPII indices; the second list stands in where pelvis and thorax are absent (LSP).
LIMBS = [idx(*p) for p in (
    ("r_ankle", "r_knee"), ("r_knee", "r_hip"), ("r_hip", "pelvis"), ("pelvis", "l_hip"), ("l_hip", "l_knee"),
    ("l_knee", "l_ankle"), ("pelvis", "thorax"), ("thorax", "upper_neck"), ("upper_neck", "head_top"),
    ("r_wrist", "r_elbow"), ("r_elbow", "r_shoulder"), ("r_shoulder", "thorax"), ("thorax", "l_shoulder"),
    ("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist"),
)]
LSP_LIMBS = [idx(*p) for p in (
    ("r_hip", "l_hip"), ("r_shoulder", "upper_neck"), ("l_shoulder", "upper_neck"),
    ("r_hip", "r_shoulder"), ("l_hip", "l_shoulder"),
)]
SIDE_COLOURS = {"r": "tab:red", "l": "tab:blue", "c": "tab:green"}


def _side(mpii_id: int) -> str:
    name = MPII_JOINTS[mpii_id]
    return name[0] if name[:2] in ("r_", "l_") else "c"


def skeleton_limbs(joint_ids: Sequence[int]) -> list[tuple[int, int]]:
    """Limbs as pairs of columns of a dataset with MPII ids ``joint_ids`` (LSP limbs where pelvis is absent)."""
    pos = {j: i for i, j in enumerate(joint_ids)}
    extra = LSP_LIMBS if idx("pelvis")[0] not in pos else []
    return [(pos[a], pos[b]) for a, b in LIMBS + extra if a in pos and b in pos]


def draw_limbs(ax, xy: np.ndarray, shown: np.ndarray, joint_ids: Sequence[int], *, lw: float = 1.2) -> None:
    """One person's limbs on ``ax`` (both ends ``shown``), coloured by side (a limb across the body green)."""
    for a, b in skeleton_limbs(joint_ids):
        if shown[a] and shown[b]:
            side = _side(joint_ids[a]) if _side(joint_ids[a]) == _side(joint_ids[b]) else "c"
            ax.plot(xy[[a, b], 0], xy[[a, b], 1], color=SIDE_COLOURS[side], lw=lw, alpha=0.85)


def draw_skeleton(ax, xy: np.ndarray, shown: np.ndarray, visible: np.ndarray, joint_ids: Sequence[int], *,
                  lw: float = 1.2, ms: float = 4.0) -> None:
    """One person's skeleton on ``ax``: right red, left blue, centre green; hidden joints hollow.

    ``xy`` is ``J×2``; ``shown`` says which joints to draw (a limb needs both ends), ``visible``
    which of them get filled markers.
    """
    draw_limbs(ax, xy, shown, joint_ids, lw=lw)
    for j in np.flatnonzero(shown):
        colour = SIDE_COLOURS[_side(joint_ids[j])]
        ax.plot(xy[j, 0], xy[j, 1], "o", ms=ms, mec=colour, mew=lw, mfc=colour if visible[j] else "none")


def preview(ps: PoseSet, out: str | Path, *, n: int = 16, seed: int = 0, aug: AugmentConfig = PBN_AUGMENT,
            input_size: int = 256, title: str = "") -> Path:
    """Save a grid of ``n`` augmented training samples of ``ps`` with skeletons to ``out`` (PNG)."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    data = DeviceData.from_poseset(ps, "cpu")
    gen = torch.Generator().manual_seed(seed)
    index = torch.randperm(len(ps), generator=gen)[:n]
    batch = make_batch(data, index, aug, input_size, gen)
    joints = to_input(batch.joints, input_size // batch.targets.shape[-1]).numpy()
    shown = batch.weights.numpy() > 0
    visible = batch.visible.numpy()

    k = len(index)
    cols = int(np.ceil(np.sqrt(k)))
    rows = int(np.ceil(k / cols))
    fig = Figure(figsize=(2.2 * cols, 2.2 * rows + (0.3 if title else 0)))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for b in range(k):
        ax = axes.flat[b]
        ax.imshow(batch.inputs[b].permute(1, 2, 0).numpy(), extent=(-0.5, input_size - 0.5, input_size - 0.5, -0.5))
        draw_skeleton(ax, joints[b], shown[b], visible[b], ps.joint_ids)
        ax.set_title(f"#{int(index[b])}", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return save_figure(fig, out)


#: How :func:`occlusion_samples` marks a joint, by ``PoseSet.occlusion`` code: (legend label, marker, filled).
OCCLUSION_MARKERS: dict[int, tuple[str, str, bool]] = {
    0: ("visible", "o", True),
    OCCLUSION_CODES["self_occluded"]: ("self-occluded (own body)", "o", False),
    OCCLUSION_CODES["other_occluded"]: ("other-occluded (object or person)", "X", True),
}


def pick_occluded(ps: PoseSet, n: int, seed: int = 0) -> np.ndarray:
    """``n`` people of ``ps`` (sorted indices) that show both causes of occlusion where possible.

    People with a self- and an other-occluded joint come first, then people with either, then
    the rest; within each tier the choice is random with ``seed``. Needs ``ps.occlusion``.
    """
    if ps.occlusion is None:
        raise ValueError("this PoseSet has no occlusion labels (only rendered datasets have them)")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    occ = np.where(ps.annotated, ps.occlusion, 0)
    has_self = (occ == OCCLUSION_CODES["self_occluded"]).any(1)
    has_other = (occ == OCCLUSION_CODES["other_occluded"]).any(1)
    rng = np.random.default_rng(seed)
    picked: list[int] = []
    for tier in (has_self & has_other, has_self ^ has_other, ~(has_self | has_other)):
        rows = rng.permutation(np.flatnonzero(tier))
        picked += rows[:n - len(picked)].tolist()
    return np.sort(np.array(picked, dtype=int))


def _mark(ax, xy: np.ndarray, marker: str, filled: bool, colour: str) -> None:
    """One joint: a filled or hollow dot in ``colour``, or a cross in ``colour`` edged white (legible on any pixel)."""
    if marker == "X":
        ax.plot(*xy, marker, ms=6, mfc=colour, mec="white", mew=0.6)
    else:
        ax.plot(*xy, marker, ms=5, mfc=colour if filled else "none", mec=colour, mew=1.3)


def occlusion_samples(ps: PoseSet, n: int = 8, seed: int = 0, cols: int = 4) -> Figure:
    """``n`` stored crops of ``ps`` with skeletons and each joint's occlusion cause (a legend below).

    Joints are coloured by side (right red, left blue, centre green) and marked by
    :data:`OCCLUSION_MARKERS`: visible filled, self-occluded hollow, other-occluded a cross;
    joints without annotation are not drawn. People are chosen by :func:`pick_occluded`. Only
    the ``n`` people drawn are touched, so the picture is cheap whatever the size of ``ps``. Each
    panel is zoomed on its person (a square around the annotated joints), titled with its index
    in ``ps`` and its count of self- and other-occluded joints.
    """
    from matplotlib.lines import Line2D

    index = pick_occluded(ps, n, seed)
    rows = int(np.ceil(len(index) / cols))
    fig = Figure(figsize=(2.2 * cols, 2.3 * rows + 0.3), layout="constrained")  # keeps the legend clear of the crops
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    r = ps.resolution
    self_code, other_code = OCCLUSION_CODES["self_occluded"], OCCLUSION_CODES["other_occluded"]
    for ax, i in zip(axes.flat, index):
        ann, occ = ps.annotated[i], np.where(ps.annotated[i], ps.occlusion[i], 0)
        ax.imshow(ps.images[i], extent=(-0.5, r - 0.5, r - 0.5, -0.5))
        draw_limbs(ax, ps.joints[i], ann, ps.joint_ids, lw=1.0)
        for j in np.flatnonzero(ann):
            _, marker, filled = OCCLUSION_MARKERS[int(occ[j])]
            _mark(ax, ps.joints[i, j], marker, filled, SIDE_COLOURS[_side(ps.joint_ids[j])])
        lo, hi = ps.joints[i][ann].min(0), ps.joints[i][ann].max(0)  # zoom on the person: a square around its joints
        centre, half = (lo + hi) / 2, max(0.6 * float((hi - lo).max()), r / 6)
        ax.set_xlim(centre[0] - half, centre[0] + half)
        ax.set_ylim(centre[1] + half, centre[1] - half)
        ax.set_title(f"#{int(i)}: {int((occ == self_code).sum())} self, {int((occ == other_code).sum())} other",
                     fontsize=7)
    handles = [Line2D([], [], ls="", marker=m, ms=6, mec="white" if m == "X" else "0.2", mew=0.6 if m == "X" else 1.3,
                      mfc="0.2" if f else "none", label=label) for label, m, f in OCCLUSION_MARKERS.values()]
    handles += [Line2D([], [], color=c, lw=2, label=side) for side, c in
                (("right", SIDE_COLOURS["r"]), ("left", SIDE_COLOURS["l"]), ("centre", SIDE_COLOURS["c"]))]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=7, frameon=False)
    return fig


def save_figure(fig: Figure, out: str | Path, dpi: int = 100) -> Path:
    """Lay out ``fig`` and write it to ``out`` (folders created); returns the path."""
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    return out
