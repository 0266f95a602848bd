"""Validation: predictions of the last stack, loss, and PCKh / PCK by joint and visibility.

Used by the training engine after every epoch (KPTransfer Fig. 3 plots these curves) and once
more at the end on the selected weights. The model runs in eval mode (BatchNorm on running
statistics), one unaugmented input per person (PBN Sec. 4.3: single-scale testing; optional
flip testing), argmax decoding with the quarter-pixel shift (``lib.heatmaps.decode``), and
predictions mapped back to crop pixels, where ``PoseSet.norm`` normalises the error. Everything
stays on the device until one transfer at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from lib.data.augment import NO_AUGMENT, DeviceData, heatmap_to_crop, make_batch
from lib.data.poseset import PoseSet
from lib.heatmaps import decode, flip_heatmaps, flip_pairs_for
from lib.joints import MPII_JOINTS
from lib.metrics import PCK_THRESHOLD, PCKH_THRESHOLD, pck_hits, pck_table, per_joint, visibility_tables

LossFn = Callable[[list[Tensor], Tensor, Tensor], Tensor]


@dataclass
class Evaluation:
    """One validation pass. Arrays are ``N×J`` over the evaluated joints ``joint_ids`` (MPII ids).

    Attributes:
        pred: ``N×J×2`` predictions in crop pixels; ``maxvals``: heatmap peak values.
        hits, evaluated, visible: per-person correctness, evaluation mask, visibility flags.
        loss: the training loss on unaugmented validation inputs and targets.
        tables: ``{"all", "visible", "invisible"}`` → ``lib.metrics.pck_table`` rows, plus
            ``"self_occluded"`` and ``"other_occluded"`` when the data knows why a joint is
            hidden (the synthetic benchmark: PBN Fig. 7's two cases).
        occlusion: ``N×J`` 0 visible / 1 self-occluded / 2 other-occluded, or None.
        threshold: 0.5 (PCKh) or 0.2 (PCK).
        pred_image: ``N×J×2`` predictions in the source image's pixels (``PoseSet.origin``;
            for rendered people, whose crop is the image, the crop pixels), for evaluation by
            anyone's own code; ``image``: each person's image (file name, or the person's index
            in the split for rendered people).
    """

    pred: np.ndarray
    maxvals: np.ndarray
    hits: np.ndarray
    evaluated: np.ndarray
    visible: np.ndarray
    loss: float
    tables: dict[str, dict[str, float]]
    joint_ids: tuple[int, ...]
    threshold: float
    occlusion: np.ndarray | None = None
    pred_image: np.ndarray | None = None
    image: np.ndarray | None = None

    @property
    def table(self) -> dict[str, float]:
        """The all-joints row: ``Head`` ... ``Ank.``, ``Mean``, ``Hard`` (when present)."""
        return self.tables["all"]

    def per_joint(self) -> dict[str, dict[str, float]]:
        """Per-joint PCK by joint name, for all, visible and invisible joints."""
        masks = {"all": self.evaluated, "visible": self.evaluated & self.visible,
                 "invisible": self.evaluated & ~self.visible}
        names = [MPII_JOINTS[j] for j in self.joint_ids]
        return {k: dict(zip(names, per_joint(self.hits, m).tolist())) for k, m in masks.items()}


def precision(device: torch.device, bf16: bool) -> torch.autocast:
    """bf16 autocast (CUDA, or a CPU with native bf16: ``lib.hardware``) when asked, else plain fp32."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


def threshold_for(metric: str) -> float:
    """PCKh@0.5 for MPII-style data, PCK@0.2 for LSP (PBN Sec. 4)."""
    return {"pckh": PCKH_THRESHOLD, "pck": PCK_THRESHOLD}[metric]


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: DeviceData, ps: PoseSet, cols: Sequence[int], loss_fn: LossFn, *,
             input_size: int, batch_size: int = 64, sigma: float = 1.0, flip: bool = False,
             bf16: bool = False, channels_last: bool = False) -> Evaluation:
    """Evaluate ``model``'s last stack on every person of ``data`` (the device copy of ``ps``).

    ``cols`` are the dataset columns the last stack predicts, in its channel order; ``loss_fn``
    maps (outputs, targets, weights) to the training loss; ``bf16``: autocast. The
    model is left in eval mode.
    """
    model.eval()
    device = data.device
    joint_ids = tuple(ps.joint_ids[c] for c in cols)
    pairs = flip_pairs_for(joint_ids) if flip else None
    gen = torch.Generator(device=device).manual_seed(0)  # NO_AUGMENT draws but ignores random numbers
    coords, peaks, loss_sum = [], [], torch.zeros((), device=device)
    n = len(data)
    for start in range(0, n, batch_size):
        index = torch.arange(start, min(n, start + batch_size), device=device)
        batch = make_batch(data, index, NO_AUGMENT, input_size, gen, sigma)
        inputs = batch.inputs.contiguous(memory_format=torch.channels_last) if channels_last else batch.inputs
        with precision(device, bf16):
            outputs = model(inputs)
            last = outputs[-1]
            if pairs is not None:
                mirrored = model(inputs.flip(-1))[-1]
                last = (last + flip_heatmaps(mirrored, pairs)) / 2
        loss_sum += loss_fn(outputs, batch.targets, batch.weights).float() * len(index)
        xy, mv = decode(last.float())
        coords.append(xy)
        peaks.append(mv)
    pred = heatmap_to_crop(torch.cat(coords), data, input_size).cpu().numpy()
    maxvals = torch.cat(peaks).cpu().numpy()
    loss = float(loss_sum) / n
    cols = list(cols)
    gt, annotated, visible = ps.joints[:, cols], ps.annotated[:, cols], ps.visible[:, cols]
    threshold = threshold_for(ps.metric)
    hits, evaluated = pck_hits(pred, gt, annotated, ps.norm, threshold)
    tables = visibility_tables(hits, evaluated, visible, joint_ids)
    occlusion = None if ps.occlusion is None else ps.occlusion[:, cols].astype(np.int8)
    if occlusion is not None:
        for name, code in (("self_occluded", 1), ("other_occluded", 2)):
            tables[name] = pck_table(hits, evaluated & (occlusion == code), joint_ids)
    pred_image = pred if ps.origin is None else ps.origin[:, None, :2] + pred * ps.origin[:, None, 2:3]
    return Evaluation(pred=pred.astype(np.float32), maxvals=maxvals.astype(np.float32), hits=hits,
                      evaluated=evaluated, visible=visible.astype(bool), loss=loss, tables=tables,
                      joint_ids=joint_ids, threshold=threshold, occlusion=occlusion,
                      pred_image=pred_image.astype(np.float32), image=person_images(ps))


def person_images(ps: PoseSet) -> np.ndarray:
    """Each person's image: the photo's file name where the PoseSet knows it, else its row index."""
    names = ps.meta.get("images")
    if names is not None and len(names) == len(ps):
        return np.asarray([str(n) for n in names])
    return np.asarray([str(i) for i in range(len(ps))])
