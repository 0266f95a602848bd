"""A trained model's skeleton on a user's own photo: ``python -m lib.predict IMAGE ... --out out.png``.

The photo is framed as the model was trained (``lib.data.pack``): a square person box, scaled
onto the network input, inside a crop ``margin`` times larger. With ``--box x0,y0,x1,y1`` (image
pixels, pixel centres at integer coordinates) the person box is that box's centre and
:data:`BOX_FACTOR` × its longer side, the enlargement both datasets' boxes get (MPII's
200·scale·1.25, LSP's ``lib.data.lsp.BOX_FACTOR``); without a box the whole photo is the person
box (its longer side, centred). The framed person goes through :func:`lib.evaluate.evaluate`
under one of its test protocols (default the six-scale flip pyramid of PBN Sec. 4.2), and the
skeleton is drawn by the book's one skeleton function (``lib.data.preview.draw_skeleton``): right
joints red, left blue, centre green, joints whose heatmap peak is below ``--min-score`` hollow.

    python -m lib.predict photo.jpg pbn/mi5-d1-w64 --out pose.png           # the shipped weights
    python -m lib.predict photo.jpg pbn/mi5-d1-w64 --profile smoke --seed 0 --out pose.png
    python -m lib.predict photo.jpg --weights .cache/runs/<hash>/final.pt --box 120,40,260,400 --out pose.png

Without a run folder's ``final.pt`` (a fresh clone) the run's shipped fp16 weights are used
(:mod:`lib.weights`; ``python -m lib.weights list`` names them), and the output line says which;
without ``--profile`` and ``--seed`` the shipped file that fits is taken (:func:`lib.weights.default_run`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure  # no pyplot: writes files without touching the global backend
from PIL import Image

from lib import inference as I
from lib import weights as W
from lib.data.pack import crop_person, read_image
from lib.data.poseset import PoseSet
from lib.data.preview import draw_skeleton, save_figure
from lib.errors import DataFileError
from lib.evaluate import PROTOCOLS, evaluate
from lib.experiments import PROFILES, Experiment, make_experiment
from lib.heatmaps import PYRAMID_SCALES
from lib.joints import MPII_JOINTS

#: A user's box around the person becomes a person box this much larger (as the training boxes).
BOX_FACTOR = 1.25


@dataclass
class Prediction:
    """One person's joints in image pixels (``J×2``, 0-based), heatmap peaks, and the person box used."""

    joints: np.ndarray
    scores: np.ndarray
    joint_ids: tuple[int, ...]
    center: np.ndarray
    side: float

    def as_dict(self) -> dict:
        return {"joints": {MPII_JOINTS[j]: [float(x), float(y), float(s)]
                           for j, (x, y), s in zip(self.joint_ids, self.joints, self.scores)},
                "person_box": {"center": [float(c) for c in self.center], "side": self.side}}


def person_box(size: tuple[int, int], box: Sequence[float] | None) -> tuple[np.ndarray, float]:
    """Centre and side of the person box: from the user's ``box`` (× :data:`BOX_FACTOR`) or the whole image."""
    w, h = size
    if box is None:
        return np.array([(w - 1) / 2, (h - 1) / 2]), float(max(w, h))
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"box {x0:g},{y0:g},{x1:g},{y1:g} is empty; give x0,y0,x1,y1 with x1 > x0 and y1 > y0")
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2]), BOX_FACTOR * max(x1 - x0, y1 - y0)


def predict_image(model: torch.nn.Module, exp: Experiment, image: Image.Image, box: Sequence[float] | None = None,
                  protocol: str = "multiscale", scales: Sequence[float] = PYRAMID_SCALES) -> Prediction:
    """The joints ``exp``'s model finds in ``image`` (one person, framed by ``box`` or the whole image)."""
    center, side = person_box(image.size, box)
    res, margin = exp.data.resolution, exp.data.margin
    crop, origin = crop_person(image.convert("RGB"), center, side, res, margin)
    j = len(exp.eval_joints)
    one = PoseSet(images=np.array(crop)[None], joints=np.zeros((1, j, 2), np.float32), annotated=np.zeros((1, j), bool),
                  visible=np.zeros((1, j), bool), norm=np.ones(1, np.float32), joint_ids=exp.eval_joints,
                  metric="pckh", margin=margin, origin=origin[None])
    ev = evaluate(model, exp, one, protocol, scales=scales, device=next(model.parameters()).device)
    return Prediction(joints=ev.image_pred[0], scores=ev.maxvals[0], joint_ids=exp.eval_joints, center=center,
                      side=side)


def draw(image: Image.Image, p: Prediction, out: str | Path, *, min_score: float = 0.0, title: str = "",
         box: Sequence[float] | None = None) -> Path:
    """Save ``image`` with the predicted skeleton (and the user's box, dashed) as a PNG."""
    w, h = image.size
    scale = 6.0 / max(w, h)
    fig = Figure(figsize=(max(2.0, w * scale), max(2.0, h * scale) + (0.3 if title else 0)))
    ax = fig.subplots()
    ax.imshow(np.asarray(image.convert("RGB")), extent=(-0.5, w - 0.5, h - 0.5, -0.5))
    lw = 2.0  # the figure is 6 inches on its longer side whatever the photo's size
    draw_skeleton(ax, p.joints, np.ones(len(p.joint_ids), bool), p.scores >= min_score, p.joint_ids,
                  lw=lw, ms=2.5 * lw)
    if box is not None:
        x0, y0, x1, y1 = box
        ax.plot([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0], "--", color="white", lw=0.8)
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=8)
    return save_figure(fig, out)


def _read_photo(path: Path) -> Image.Image:
    """The user's photo; missing or unreadable, one line with this command's fix (not the dataset
    loader's ``require_images=False``, which is no option here)."""
    if not path.is_file():
        raise FileNotFoundError(f"image {path} not found; give the path of a photo (any format PIL reads)")
    try:
        return read_image(path)
    except DataFileError as e:
        raise DataFileError(path, e.problem, "give another photo (any format PIL reads)") from None


def _parse_box(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        box = tuple(float(v) for v in text.split(","))
    except ValueError:
        box = ()
    if len(box) != 4:
        raise ValueError(f"--box {text!r} must be four numbers x0,y0,x1,y1 in image pixels")
    return box


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lib.predict", description=__doc__.split("\n")[0])
    p.add_argument("image", type=Path, help="a photo (any format PIL reads)")
    p.add_argument("experiment", nargs="?", help="experiment name (or give --weights)")
    p.add_argument("--profile", default=None, choices=sorted(PROFILES),
                   help="default: the shipped weights' (see `python -m lib.weights list`), else smoke")
    p.add_argument("--dataset", default=None, help="the dataset the run was trained on (default: as --profile)")
    p.add_argument("--seed", type=int, default=None, help="default: the shipped weights' seed, else 0")
    p.add_argument("--weights", type=Path, default=None,
                   help="a run's final.pt or a shipped fp16 file (default: the run folder's, else the shipped one)")
    p.add_argument("--box", default=None, help="x0,y0,x1,y1 around the person, image pixels (default: whole image)")
    p.add_argument("--protocol", default="multiscale", choices=PROTOCOLS)
    p.add_argument("--min-score", type=float, default=0.0, help="joints with a lower heatmap peak are drawn hollow")
    p.add_argument("--out", type=Path, required=True, help="the PNG to write")
    p.add_argument("--json", action="store_true", help="print the joints as one JSON line")
    p.add_argument("--results", default=None, help="results folder (default: the repository's results/)")
    p.add_argument("--checkpoint-dir", default=None, help="run folders (default .cache/runs)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    try:
        if args.experiment is None and args.weights is None:
            raise ValueError("give an EXPERIMENT (with --profile, --dataset, --seed) or --weights FILE")
        box = _parse_box(args.box)
        image = _read_photo(args.image)
        exp = (make_experiment(args.experiment, *W.default_run(args.experiment, args.profile, args.dataset, args.seed))
               if args.experiment else None)
        exp, model, path = I.load_model(exp, args.weights, checkpoint_dir=args.checkpoint_dir,
                                        results_dir=args.results, device=args.device)
        pred = predict_image(model, exp, image, box, args.protocol)
        title = f"{exp.name} ({exp.profile}, {exp.data.dataset}, seed {exp.seed}), {args.protocol}"
        out = draw(image, pred, args.out, min_score=args.min_score, title=title, box=box)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{out}  ({exp.name}, {len(pred.joint_ids)} joints, {I.describe_weights(path)})")
    if args.json:
        print(json.dumps(pred.as_dict()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
