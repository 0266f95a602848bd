"""A picture of what the network is trained on: augmented samples with their skeletons.

Drawn from the exact tensors :func:`lib.data.augment.make_batch` returns (inputs and heatmap
joints mapped back to input pixels), so a wrong flip relabelling, a joint/pixel misalignment
or a wrong visibility flag shows up at a glance. Right joints are red, left blue, centre
green; visible joints are filled, invisible (annotated but occluded) joints hollow.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure  # no pyplot: writes files without touching the global backend
import numpy as np  # noqa: E402
import torch  # noqa: E402

from lib.data.augment import PBN_AUGMENT, AugmentConfig, DeviceData, make_batch  # noqa: E402
from lib.data.poseset import PoseSet  # noqa: E402
from lib.heatmaps import to_input  # noqa: E402
from lib.joints import MPII_JOINTS, idx  # noqa: E402

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
    ids = ps.joint_ids
    pos = {j: i for i, j in enumerate(ids)}
    limbs = [(pos[a], pos[b]) for a, b in LIMBS + (LSP_LIMBS if 6 not in pos else []) if a in pos and b in pos]

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
        for a, c in limbs:
            if shown[b, a] and shown[b, c]:
                side = _side(ids[a]) if _side(ids[a]) == _side(ids[c]) else "c"
                ax.plot(joints[b, [a, c], 0], joints[b, [a, c], 1], color=SIDE_COLOURS[side], lw=1.2, alpha=0.8)
        for j in range(len(ids)):
            if shown[b, j]:
                colour = SIDE_COLOURS[_side(ids[j])]
                ax.plot(joints[b, j, 0], joints[b, j, 1], "o", ms=4, mec=colour, mew=1.2,
                        mfc=colour if visible[b, j] else "none")
        ax.set_title(f"#{int(index[b])}", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    return out
