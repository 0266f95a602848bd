"""The one evaluator: a model (or a record's stored predictions) and a set of people → predictions, hits, tables.

Every evaluation of the study goes through here: the training engine's validation pass after
every epoch (KPTransfer Fig. 3 plots these curves; the record keeps the selected epoch's),
``python -m lib.inference`` on a finished run's weights, ``python -m lib.predict`` on a user's
photo, and the failure gallery (:mod:`lib.gallery`), which reads a record's stored hits instead of
rescoring its float16 predictions. Each returns one :class:`Evaluation`.

Test protocols (:data:`PROTOCOLS`), all on the last stack's heatmaps, the model in eval mode
(BatchNorm on running statistics), one unaugmented input per person:

* ``single``: the heatmaps of that input (PBN Sec. 4.3, the ablations; what the engine stores);
* ``flip``: their average with the mirrored input's heatmaps mapped back
  (:func:`lib.heatmaps.flip_test`, Newell et al.);
* ``multiscale``: PBN Sec. 4.2's "six-scale image pyramids with flipping", scales 0.8 to 1.3
  (:func:`lib.heatmaps.multiscale_test`, :data:`lib.heatmaps.PYRAMID_SCALES`): the protocol of
  PBN Tables 1-5.

Heatmaps are decoded by argmax with the quarter-pixel shift (:func:`lib.heatmaps.decode`) and
mapped to crop pixels, where ``PoseSet.norm`` normalises the error, and to image pixels through
``PoseSet.origin``. A joint is right by :func:`lib.metrics.pck_hits` at the dataset's threshold
(:data:`PCK_METRICS`). Everything stays on the device until one transfer at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, NamedTuple, Sequence

import numpy as np
import torch
from torch import Tensor

from lib.data.augment import NO_AUGMENT, DeviceData, eval_inputs, heatmap_to_crop, make_batch
from lib.data.poseset import PoseSet
from lib.experiments import Experiment
from lib.heatmaps import PYRAMID_SCALES, decode, flip_pairs_for, flip_test, multiscale_test
from lib.joints import MPII_JOINTS
from lib.metrics import (PCK_THRESHOLD, PCKH_THRESHOLD, TABLE_KEYS, normalized_errors, pck_hits, pck_table,
                         per_joint, visibility_tables)

if TYPE_CHECKING:  # only for annotations: the engine need not import pandas through lib.results
    from lib.results import Record

LossFn = Callable[[list[Tensor], Tensor, Tensor], Tensor]

#: The test protocols: one input, its average with the mirror image, the six-scale flip pyramid.
PROTOCOLS: tuple[str, ...] = ("single", "flip", "multiscale")


# ---------------------------------------------------------------------------------------------
# what a dataset is scored with


@dataclass(frozen=True)
class PckMetric:
    """How a dataset is scored: the threshold of its tables and the range of its PCK curve.

    Two facts, named apart although their values coincide: the official scripts report PCK at
    the last threshold of the curve they draw. MPII (``evalPCK``, head-size normalised) draws
    ``range = 0:0.01:0.5`` and reports PCKh@0.5 (PBN Tables 1-3, 6, 7; KPTransfer Tables 2-5);
    LSP (``evaluatePCK``, Sapp & Taskar's torso PCK) draws ``range = 0:0.01:0.2`` and reports
    PCK@0.2 (PBN Tables 4-5).

    Attributes:
        name: ``PoseSet.metric``: ``pckh`` or ``pck``; label: ``PCKh`` or ``PCK``.
        normaliser: what an error is divided by (``PoseSet.norm``).
        threshold: a joint is right when ``error / norm < threshold``.
        curve_max: the PCK curve runs over ``0, 0.01, ..., curve_max``.
    """

    name: str
    label: str
    normaliser: str
    threshold: float
    curve_max: float
    curve_step: float = 0.01

    @property
    def title(self) -> str:
        """``PCKh@0.5`` or ``PCK@0.2``."""
        return f"{self.label}@{self.threshold:g}"

    @property
    def curve_title(self) -> str:
        """``AUC@0-0.5`` or ``AUC@0-0.2``."""
        return f"AUC@0-{self.curve_max:g}"

    def curve_thresholds(self) -> np.ndarray:
        """``0, 0.01, ..., curve_max``."""
        return np.linspace(0.0, self.curve_max, int(round(self.curve_max / self.curve_step)) + 1)


PCK_METRICS: dict[str, PckMetric] = {
    "pckh": PckMetric("pckh", "PCKh", "head size", threshold=PCKH_THRESHOLD, curve_max=0.5),
    "pck": PckMetric("pck", "PCK", "torso", threshold=PCK_THRESHOLD, curve_max=0.2),
}


def pck_metric(metric: str) -> PckMetric:
    """The :class:`PckMetric` of ``PoseSet.metric`` (``pckh`` for MPII-style data, ``pck`` for LSP; PBN Sec. 4)."""
    try:
        return PCK_METRICS[metric]
    except KeyError:
        raise ValueError(f"unknown PCK metric {metric!r}; a PoseSet is scored with one of "
                         f"{sorted(PCK_METRICS)}") from None


def auc(curve: Sequence[dict[str, float]], thresholds: np.ndarray) -> dict[str, float]:
    """Area under the PCK curve per table column, in percent of the full square.

    ``curve`` is one :func:`lib.metrics.pck_table` row per threshold. The area is the trapezoid
    rule's, divided by the last threshold (``area_under_curve`` of the official MPII and LSP
    evaluation code, which rescales the thresholds to [0, 1]). Perfect predictions score 100 minus
    half a step (the curve is 0 at threshold 0 with the strict ``<``).
    """
    thresholds = np.asarray(thresholds, dtype=np.float64)
    out = {}
    for key in curve[0]:
        values = np.array([row[key] for row in curve])
        out[key] = float(np.sum((values[1:] + values[:-1]) / 2 * np.diff(thresholds)) / thresholds[-1])
    return out


# ---------------------------------------------------------------------------------------------
# the result


@dataclass
class Evaluation:
    """People scored against their ground truth. Arrays are ``N×J`` over the joints ``joint_ids`` (MPII ids).

    Attributes:
        pred: ``N×J×2`` float32 predictions in crop pixels.
        image_pred: the same in the source image's 0-based pixels (``PoseSet.origin``; for
            rendered people, whose crop is the image, the crop pixels), for prediction files
            (:mod:`lib.export`) and anyone's own evaluation code.
        maxvals: heatmap peak per joint; ``errors``: error / norm (inf where not evaluated).
        hits, evaluated, visible: correctness at ``threshold``, evaluation mask, visibility.
        columns: the dataset columns of the joints, in ``PoseSet`` order.
        metric: ``pckh`` or ``pck`` (:func:`pck_metric`); threshold: 0.5 (PCKh) or 0.2 (PCK).
        tables: ``{"all", "visible", "invisible"}`` → :func:`lib.metrics.pck_table` rows, plus
            ``"self_occluded"`` and ``"other_occluded"`` when the data knows why a joint is
            hidden (the synthetic benchmark: PBN Fig. 7's two cases); :func:`tables_of`.
        auc: the ``all`` columns' area under the PCK curve (None for stored predictions).
        loss: the training loss on unaugmented inputs and targets (None where not computed).
        occlusion: ``N×J`` 0 visible / 1 self-occluded / 2 other-occluded, or None.
        image: each person's image (file name, or the person's index in the split).
        protocol, dataset, split: what was run on what; label: how figures name the run.
    """

    pred: np.ndarray
    image_pred: np.ndarray
    maxvals: np.ndarray
    errors: np.ndarray
    hits: np.ndarray
    evaluated: np.ndarray
    visible: np.ndarray
    joint_ids: tuple[int, ...]
    columns: tuple[int, ...]
    metric: str
    threshold: float
    tables: dict[str, dict[str, float]]
    auc: dict[str, float] | None = None
    loss: float | None = None
    occlusion: np.ndarray | None = None
    image: np.ndarray | None = None
    protocol: str = "single"
    dataset: str = ""
    split: str = "val"
    label: str = ""

    def __len__(self) -> int:
        return len(self.pred)

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

    def format(self) -> str:
        """The papers' layout: one row at the threshold, one of AUC, columns ``Head`` ... ``Mean``."""
        spec = pck_metric(self.metric)
        keys = [k for k in (*TABLE_KEYS, "Hard") if k in self.table]
        rows = [(spec.title, self.table)] + ([(spec.curve_title, self.auc)] if self.auc is not None else [])
        width = max(len(name) for name, _ in rows) + 1
        lines = [" " * width + "".join(f"{k:>8}" for k in keys)]
        lines += [f"{name:<{width}}" + "".join(f"{row[k]:>8.1f}" for k in keys) for name, row in rows]
        return "\n".join(lines)

    def summary(self) -> dict:
        """JSON-ready: table, AUC, per-joint values, counts."""
        def clean(d: dict | None) -> dict | None:
            return None if d is None else {k: (None if not np.isfinite(v) else float(v)) for k, v in d.items()}

        return {"dataset": self.dataset, "split": self.split, "protocol": self.protocol, "metric": self.metric,
                "threshold": self.threshold, "people": len(self), "columns": clean(self.table),
                "auc": clean(self.auc), "joints": clean(self.per_joint()["all"])}


def tables_of(hits: np.ndarray, evaluated: np.ndarray, visible: np.ndarray, joint_ids: Sequence[int],
              occlusion: np.ndarray | None = None) -> dict[str, dict[str, float]]:
    """:attr:`Evaluation.tables`: all, visible and invisible joints, and each occlusion cause when known."""
    tables = visibility_tables(hits, evaluated, visible, joint_ids)
    if occlusion is not None:
        for name, code in (("self_occluded", 1), ("other_occluded", 2)):
            tables[name] = pck_table(hits, evaluated & (occlusion == code), joint_ids)
    return tables


# ---------------------------------------------------------------------------------------------
# a model's predictions


def precision(device: torch.device, bf16: bool) -> torch.autocast:
    """bf16 autocast (CUDA, or a CPU with native bf16: ``lib.hardware``) when asked, else plain fp32."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


class Predicted(NamedTuple):
    """:func:`predict`'s result: ``N×K×2`` float32 crop pixels, ``N×K`` heatmap peaks, the mean loss (or None)."""

    pred: np.ndarray
    maxvals: np.ndarray
    loss: float | None


@torch.no_grad()
def predict(model: torch.nn.Module, data: DeviceData, input_size: int, protocol: str = "single", *,
            flip_pairs: Sequence[tuple[int, int]] = (), scales: Sequence[float] = PYRAMID_SCALES,
            batch_size: int = 64, bf16: bool = False, channels_last: bool = False,
            loss_fn: LossFn | None = None, sigma: float = 1.0) -> Predicted:
    """Crop-pixel predictions of the model's ``K`` output channels for every person of ``data``.

    ``flip_pairs``: the left/right pairs among the output channels
    (:func:`lib.heatmaps.flip_pairs_for` of the predicted MPII ids); ``scales``: the pyramid of
    ``multiscale``; ``bf16``: the network runs under bf16 autocast (near-ties of a heatmap's
    maximum can then decode differently); ``channels_last``: the inputs' memory format (the
    engine's). With ``loss_fn`` (outputs, targets, weights → training loss) the inputs are the
    engine's unaugmented batches (``NO_AUGMENT``, targets rendered with ``sigma``) and the mean
    loss over people comes back too. The model is left in eval mode.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown test protocol {protocol!r}; choose one of {PROTOCOLS}")
    model.eval()
    device = data.device

    def stacks(x: Tensor) -> list[Tensor]:
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with precision(device, bf16):
            return model(x)

    def forward(x: Tensor) -> Tensor:
        return stacks(x)[-1].float()

    gen = torch.Generator(device=device).manual_seed(0)  # NO_AUGMENT draws but ignores random numbers
    coords, peaks, loss_sum = [], [], torch.zeros((), device=device)
    n = len(data)
    for start in range(0, n, batch_size):
        index = torch.arange(start, min(n, start + batch_size), device=device)
        outputs = None
        if loss_fn is None:
            inputs = eval_inputs(data, index, input_size)
        else:
            batch = make_batch(data, index, NO_AUGMENT, input_size, gen, sigma)
            inputs, outputs = batch.inputs, stacks(batch.inputs)
            loss_sum += loss_fn(outputs, batch.targets, batch.weights).float() * len(index)
        if protocol == "single":
            heatmaps = forward(inputs) if outputs is None else outputs[-1].float()
        elif protocol == "flip":
            heatmaps = flip_test(forward, inputs, flip_pairs)
        else:
            heatmaps = multiscale_test(forward, inputs, scales, flip_pairs)
        xy, mv = decode(heatmaps)
        coords.append(xy)
        peaks.append(mv)
    pred = heatmap_to_crop(torch.cat(coords), data, input_size).cpu().numpy().astype(np.float32)
    maxvals = torch.cat(peaks).cpu().numpy().astype(np.float32)
    return Predicted(pred, maxvals, None if loss_fn is None else float(loss_sum) / n)


def evaluate(model: torch.nn.Module, exp: Experiment, ps: PoseSet, protocol: str = "single", *,
             data: DeviceData | None = None, loss_fn: LossFn | None = None,
             scales: Sequence[float] = PYRAMID_SCALES, batch_size: int = 64, bf16: bool = False,
             channels_last: bool = False, device: str | torch.device = "cpu", split: str = "val",
             label: str = "") -> Evaluation:
    """Evaluate ``exp``'s model on the people of ``ps`` under ``protocol``.

    The joints evaluated are those the model predicts (``exp.eval_joints``) that the dataset
    annotates: a 16-joint MPII model on LSP is scored on LSP's 14. ``data``: ``ps`` already on a
    device (the engine's copy), else it is copied to ``device``. ``loss_fn``: also the training
    loss on unaugmented inputs (the engine's validation loss; see :func:`predict`). The curve's
    area (:attr:`Evaluation.auc`) comes with every evaluation.
    """
    model_ids = exp.eval_joints
    channels = [k for k, j in enumerate(model_ids) if j in ps.joint_ids]
    if not channels:
        raise ValueError(f"{exp.name} predicts MPII joints {model_ids}, none of which the data has ({ps.joint_ids})")
    if data is None:
        data = DeviceData.from_poseset(ps, torch.device(device))
    out = predict(model, data, exp.model.input_size, protocol, flip_pairs=flip_pairs_for(model_ids), scales=scales,
                  batch_size=batch_size, bf16=bf16, channels_last=channels_last, loss_fn=loss_fn,
                  sigma=exp.data.sigma)
    columns = tuple(ps.joint_ids.index(model_ids[k]) for k in channels)
    return score(ps, out.pred[:, channels], columns, out.maxvals[:, channels], loss=out.loss, protocol=protocol,
                 split=split, label=label)


def score(ps: PoseSet, pred: np.ndarray, columns: Sequence[int], maxvals: np.ndarray, *, loss: float | None = None,
          protocol: str = "single", split: str = "val", label: str = "") -> Evaluation:
    """``N×J×2`` crop-pixel predictions of the dataset ``columns`` scored against ``ps``: hits, tables, AUC."""
    cols = list(columns)
    joint_ids = tuple(ps.joint_ids[c] for c in cols)
    spec = pck_metric(ps.metric)
    gt, annotated, visible = ps.joints[:, cols], ps.annotated[:, cols], ps.visible[:, cols].astype(bool)
    hits, evaluated = pck_hits(pred, gt, annotated, ps.norm, spec.threshold)
    errors, _ = normalized_errors(pred, gt, annotated, ps.norm)
    thresholds = spec.curve_thresholds()
    curve = [pck_table(*pck_hits(pred, gt, annotated, ps.norm, t), joint_ids) for t in thresholds]
    occlusion = None if ps.occlusion is None else ps.occlusion[:, cols].astype(np.int8)
    return Evaluation(pred=pred.astype(np.float32), image_pred=image_pixels(ps, pred),
                      maxvals=maxvals.astype(np.float32),
                      errors=np.where(evaluated, errors, np.inf), hits=hits, evaluated=evaluated, visible=visible,
                      joint_ids=joint_ids, columns=tuple(cols), metric=spec.name, threshold=spec.threshold,
                      tables=tables_of(hits, evaluated, visible, joint_ids, occlusion), auc=auc(curve, thresholds),
                      loss=loss, occlusion=occlusion, image=person_images(ps), protocol=protocol,
                      dataset=str(ps.meta.get("dataset", "")), split=split, label=label)


def image_pixels(ps: PoseSet, pred: np.ndarray) -> np.ndarray:
    """``N×J×2`` float32 crop-pixel predictions in the source image's pixels (``PoseSet.origin``), or as they are."""
    out = pred if ps.origin is None else ps.origin[:, None, :2] + pred * ps.origin[:, None, 2:3]
    return out.astype(np.float32)


def person_images(ps: PoseSet) -> np.ndarray:
    """Each person's image: the photo's file name where the PoseSet knows it, else its row index."""
    names = ps.meta.get("images")
    if names is not None and len(names) == len(ps):
        return np.asarray([str(n) for n in names])
    return np.asarray([str(i) for i in range(len(ps))])


# ---------------------------------------------------------------------------------------------
# a record's stored predictions


def stored(record: Record, ps: PoseSet, label: str | None = None) -> Evaluation:
    """``record``'s validation evaluation on ``ps``, the run's validation people rebuilt: its stored hits.

    The hits, evaluation mask and visibility are the record's own (computed by the run from
    float32 predictions), never recomputed from the float16 predictions it keeps; ``errors``
    (for ranking people and drawing distributions) are those float16 predictions' errors, so an
    error within float16 rounding of the threshold may sit on the other side of its hit. Raises
    ``ValueError`` when ``ps`` is not the run's people: another count, joints, images, or
    evaluation mask (the data or its pack changed since the run).
    """
    a = record.arrays()
    ids = tuple(int(j) for j in a["joint_ids"])
    fix = "rebuild the data with the run's config, or rerun it with --force"
    if len(a["pred"]) != len(ps) or any(j not in ps.joint_ids for j in ids):
        raise ValueError(f"{record.path}: {len(a['pred'])} people with joints {ids}, but the validation data has "
                         f"{len(ps)} with {ps.joint_ids}; {fix}")
    cols = tuple(ps.joint_ids.index(j) for j in ids)
    c = list(cols)
    pred = a["pred"].astype(np.float32)
    errors, evaluated = normalized_errors(pred, ps.joints[:, c], ps.annotated[:, c], ps.norm)
    visible = a["visible"].astype(bool)
    differ = [name for name, same in (
        ("images", "image" not in a or np.array_equal(a["image"], person_images(ps))),
        ("evaluated joints", np.array_equal(evaluated, a["evaluated"])),
        ("visibility", np.array_equal(visible, ps.visible[:, c]))) if not same]
    if differ:
        raise ValueError(f"{record.path}: the rebuilt validation people differ from the run's in their "
                         f"{', '.join(differ)}; {fix}")
    hits, evaluated = a["hits"].astype(bool), a["evaluated"].astype(bool)
    occlusion = a["occlusion"].astype(np.int8) if "occlusion" in a else None
    image_pred = a["pred_image"].astype(np.float32) if "pred_image" in a else image_pixels(ps, pred)
    return Evaluation(pred=pred, image_pred=image_pred, maxvals=a["maxvals"].astype(np.float32),
                      errors=np.where(evaluated, errors, np.inf), hits=hits, evaluated=evaluated, visible=visible,
                      joint_ids=ids, columns=cols, metric=ps.metric, threshold=float(record.data["threshold"]),
                      tables=tables_of(hits, evaluated, visible, ids, occlusion),
                      loss=record.metrics.get("val_loss"), occlusion=occlusion,
                      image=a["image"] if "image" in a else person_images(ps),
                      dataset=str(record.data.get("dataset", "")), label=label or f"{record.experiment} s{record.seed}")
