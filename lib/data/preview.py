"""A picture of what the network is trained on: augmented samples with their skeletons.

Drawn from the exact tensors :func:`lib.data.augment.make_batch` returns (inputs and heatmap
joints mapped back to input pixels), so a wrong flip relabelling, a joint/pixel misalignment
or a wrong visibility flag shows up at a glance. Right joints are red, left blue, centre
green; visible joints are filled, invisible (annotated but occluded) joints hollow.
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


def draw_skeleton(ax, xy: np.ndarray, shown: np.ndarray, visible: np.ndarray, joint_ids: Sequence[int], *,
                  lw: float = 1.2, ms: float = 4.0) -> None:
    """One person's skeleton on ``ax``: right red, left blue, centre green; hidden joints hollow.

    ``xy`` is ``J×2``; ``shown`` says which joints to draw (a limb needs both ends), ``visible``
    which of them get filled markers.
    """
    for a, b in skeleton_limbs(joint_ids):
        if shown[a] and shown[b]:
            side = _side(joint_ids[a]) if _side(joint_ids[a]) == _side(joint_ids[b]) else "c"
            ax.plot(xy[[a, b], 0], xy[[a, b], 1], color=SIDE_COLOURS[side], lw=lw, alpha=0.85)
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


def save_figure(fig: Figure, out: str | Path, dpi: int = 100) -> Path:
    """Lay out ``fig`` and write it to ``out`` (folders created); returns the path."""
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    return out
