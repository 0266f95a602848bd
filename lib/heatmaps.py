"""Heatmaps: Gaussian training targets, argmax decoding, and flip / multi-scale testing.

Everything works on whole batches on the tensors' own device (the training engine renders
targets on the GPU) and never loops over people or joints in Python.

Coordinate convention (shared with ``lib.data``): pixel centres sit at integer coordinates,
x to the right, y down, so a ``W``-pixel row spans ``[-0.5, W - 0.5]`` and a horizontal flip maps
``x -> W - 1 - x``. A heatmap with stride ``s`` (``s = 4`` for the hourglass: ``S×S`` input,
``S/4×S/4`` heatmaps) covers exactly the same area as its input, so heatmap pixel ``x_h`` is the
centre of the ``s×s`` input block it summarises: ``x_in = s·x_h + (s - 1)/2``
(:func:`to_heatmap`, :func:`to_input`). This is the convention of ``grid_sample`` /
``affine_grid`` with ``align_corners=False`` and is why :func:`flip_heatmaps` needs no
one-pixel shift (see there).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from lib.joints import MPII_FLIP_PAIRS, NUM_MPII_JOINTS

#: The six-scale test pyramid of PBN Sec. 4.2 ("six-scale image pyramids with flipping [50, 38]").
#: The paper does not list the scales; these are those of its reference [50] (Yang et al.,
#: PyraNet, ``evalPyra.lua``: ``torch.range(0.8, 1.3, 0.1)``). A scale ``s`` multiplies the
#: side of the person crop, so ``s > 1`` shows more context and a smaller person.
PYRAMID_SCALES: tuple[float, ...] = (0.8, 0.9, 1.0, 1.1, 1.2, 1.3)

#: Half-width of the rendered Gaussian patch in standard deviations (as Newell's and HRNet's
#: ``3 * sigma`` patches).
TRUNCATE_SIGMAS = 3.0

Forward = Callable[[Tensor], Tensor]


def to_heatmap(xy: Tensor, stride: int = 4) -> Tensor:
    """Input-pixel coordinates to heatmap-pixel coordinates: ``(x_in - (s-1)/2) / s``."""
    return (xy - (stride - 1) / 2) / stride


def to_input(xy: Tensor, stride: int = 4) -> Tensor:
    """Heatmap-pixel coordinates to input-pixel coordinates: ``s·x_h + (s-1)/2``."""
    return xy * stride + (stride - 1) / 2


def has_target(joints: Tensor, weights: Tensor, size: int, sigma: float = 1.0) -> Tensor:
    """``B×J`` bool: the joint gets a non-zero target map in :func:`gaussian_targets`.

    False where the weight is 0, the position is not finite, or the joint lies more than
    ``3·sigma`` outside the grid of pixel centres (``x < -3σ`` or ``x > size - 1 + 3σ``, same for
    ``y``), i.e. where its ``±3σ`` patch covers no pixel centre. HRNet's ``ul >= size or br < 0``
    test is the same margin up to its rounding of the centre. The training engine can use this as
    the loss weight of a joint.
    """
    _check_joints(joints, weights)
    margin = TRUNCATE_SIGMAS * sigma
    inside = ((joints >= -margin) & (joints <= size - 1 + margin)).all(-1)
    return inside & torch.isfinite(joints).all(-1) & (weights != 0)


def gaussian_targets(joints: Tensor, weights: Tensor, size: int, sigma: float = 1.0) -> Tensor:
    """Render ``B×J×size×size`` float32 target heatmaps: one unnormalised 2D Gaussian per joint.

    PBN Sec. 3.2: the ground truth of each part is "a 2D Gaussian (std=1 pixel) centred on the
    part location", at heatmap resolution. The peak value is ``exp(0) = 1`` when the joint sits
    on a pixel centre. Unlike Newell's and HRNet's renderers, the centre is not rounded to the
    nearest pixel: the Gaussian sits at the exact sub-pixel position, which removes the
    quantisation that the quarter-pixel shift of :func:`decode` only half corrects. As in those
    renderers it is cut to a square patch of ``±3σ``.

    Args:
        joints: ``B×J×2`` joint positions ``(x, y)`` in heatmap pixels (see :func:`to_heatmap`).
        weights: ``B×J`` bool or float; 0 means "no target" (unannotated joint).
        size: heatmap side in pixels.
        sigma: standard deviation in heatmap pixels.

    Returns:
        Target maps; a joint's map is all zero where :func:`has_target` is False.
    """
    if size < 1 or sigma <= 0:
        raise ValueError(f"need size >= 1 and sigma > 0, got size={size}, sigma={sigma}")
    keep = has_target(joints, weights, size, sigma)
    centre = torch.where(keep.unsqueeze(-1), joints, torch.zeros_like(joints)).float()
    grid = torch.arange(size, device=joints.device, dtype=torch.float32)
    offset = grid - centre.unsqueeze(-1)  # B×J×2×size: x offsets, then y offsets
    g = torch.exp(-offset.square() / (2 * sigma**2))
    g = torch.where(offset.abs() <= TRUNCATE_SIGMAS * sigma, g, torch.zeros_like(g))
    g = g * keep.unsqueeze(-1).unsqueeze(-1)
    return g[:, :, 1, :, None] * g[:, :, 0, None, :]  # separable: gy(y) · gx(x)


def decode(heatmaps: Tensor) -> tuple[Tensor, Tensor]:
    """Joint positions from heatmaps: argmax, then a quarter pixel toward the higher neighbour.

    The decoding of Newell et al. (``getPreds`` + ``finalPreds``), pytorch-pose and HRNet's
    ``get_final_preds``: the argmax is moved by ``0.25·sign(right - left)`` in x and
    ``0.25·sign(below - above)`` in y, a cheap sub-pixel refinement. Each axis is shifted where
    both its neighbours exist (HRNet asks ``1 < px < W - 1`` for both axes at once, which
    skips column 1 as well). Ties go to the first maximum in row-major order. Unlike HRNet,
    positions are not zeroed where the maximum is ``<= 0``: ``maxvals`` is returned for that.

    Args:
        heatmaps: ``B×J×H×W``.

    Returns:
        ``coords`` (``B×J×2`` float32, ``(x, y)`` heatmap pixels) and ``maxvals`` (``B×J``).
    """
    if heatmaps.dim() != 4:
        raise ValueError(f"heatmaps must be B×J×H×W, got shape {tuple(heatmaps.shape)}")
    b, j, h, w = heatmaps.shape
    flat = heatmaps.reshape(b, j, h * w)
    maxvals, idx = flat.max(dim=-1)
    x, y = idx % w, torch.div(idx, w, rounding_mode="floor")

    def at(yy: Tensor, xx: Tensor) -> Tensor:
        return flat.gather(-1, (yy * w + xx).unsqueeze(-1)).squeeze(-1)

    dx = at(y, (x + 1).clamp(max=w - 1)) - at(y, (x - 1).clamp(min=0))
    dy = at((y + 1).clamp(max=h - 1), x) - at((y - 1).clamp(min=0), x)
    sx = torch.where((x > 0) & (x < w - 1), 0.25 * torch.sign(dx.float()), torch.zeros_like(dx, dtype=torch.float32))
    sy = torch.where((y > 0) & (y < h - 1), 0.25 * torch.sign(dy.float()), torch.zeros_like(dy, dtype=torch.float32))
    coords = torch.stack([x.float() + sx, y.float() + sy], dim=-1)
    return coords, maxvals


def flip_heatmaps(heatmaps: Tensor, flip_pairs: Sequence[tuple[int, int]]) -> Tensor:
    """Mirror ``B×J×H×W`` heatmaps horizontally and swap the left/right channels of ``flip_pairs``.

    This turns the network's output on a mirrored image back into the output for the original
    image (flip testing, Newell's ``flip(shuffleLR(x))``). No one-pixel shift is applied: with
    pixel centres at integer coordinates a flip maps ``x -> W - 1 - x`` both on the input and on
    the heatmap, and with ``x_in = 4·x_h + 1.5`` (module docstring) the two agree exactly. HRNet
    shifts the flipped map right by one pixel because its targets use ``x_in = 4·x_h``, under
    which the mirrored heatmap position is ``W - 1 - x_h + 0.75``.
    """
    if heatmaps.dim() != 4:
        raise ValueError(f"heatmaps must be B×J×H×W, got shape {tuple(heatmaps.shape)}")
    perm = _pair_permutation(flip_pairs, heatmaps.shape[1])
    return heatmaps.flip(-1)[:, perm]


def flip_pairs_for(joint_ids: Sequence[int]) -> list[tuple[int, int]]:
    """Left/right pairs, as positions in ``joint_ids``, for a model predicting an MPII joint subset.

    ``joint_ids`` are MPII indices (``lib.joints``); a pair of :data:`lib.joints.MPII_FLIP_PAIRS`
    is kept where both joints are present. A joint whose partner is absent is not swapped: its
    flipped heatmap then predicts the other side's joint, so flip testing such a subset model is
    only meaningful for the paired joints (KPTransfer's subsets all contain both sides).
    """
    ids = [int(j) for j in joint_ids]
    bad = [j for j in ids if not 0 <= j < NUM_MPII_JOINTS]
    if bad:
        raise ValueError(f"joint ids {bad} are not MPII indices 0..{NUM_MPII_JOINTS - 1}")
    if len(set(ids)) != len(ids):
        raise ValueError(f"joint ids {ids} list a joint twice")
    pos = {j: i for i, j in enumerate(ids)}
    return [(pos[a], pos[b]) for a, b in MPII_FLIP_PAIRS if a in pos and b in pos]


def flip_test(forward: Forward, inputs: Tensor, flip_pairs: Sequence[tuple[int, int]]) -> Tensor:
    """Average of the heatmaps of ``inputs`` and of their mirror image mapped back.

    ``forward`` maps ``B×3×S×S`` images to final ``B×J×H×W`` heatmaps (the last stack). Both
    versions go through one call of ``2B`` images. Used by Newell et al. and PBN Sec. 4.2. The
    library's one flip average: ``lib.evaluate``'s ``flip`` protocol (and so the engine's
    validation of a ``flip_test`` experiment) and every scale of :func:`multiscale_test` call it.
    """
    _check_images(inputs)
    b = inputs.shape[0]
    out = forward(torch.cat([inputs, inputs.flip(-1)]))
    return (out[:b] + flip_heatmaps(out[b:], flip_pairs)) / 2


def multiscale_test(
    forward: Forward,
    inputs: Tensor,
    scales: Sequence[float] = PYRAMID_SCALES,
    flip_pairs: Sequence[tuple[int, int]] | None = None,
) -> Tensor:
    """Heatmaps averaged over an image pyramid (with flipping when ``flip_pairs`` is given).

    PBN Sec. 4.2 tests "on six-scale image pyramids with flipping" (:data:`PYRAMID_SCALES`).
    For each scale ``s`` the input is zoomed about its centre, keeping its size ``S``: the new
    image shows ``s`` times the side of the original (``s > 1`` zooms out; outside the original
    is zero). Its heatmaps are warped back into the reference frame by the inverse zoom and the
    ``len(scales)`` maps averaged, where a zoomed-in view has no heatmap (zero), as in PyraNet's
    fusion in image space. Warps use bilinear ``grid_sample`` with ``align_corners=False``,
    under which input and heatmap share normalised coordinates whatever their resolutions.

    Returns:
        ``B×J×H×W`` float32 heatmaps in the frame of ``forward(inputs)``.
    """
    _check_images(inputs)
    if not scales or any(s <= 0 for s in scales):
        raise ValueError(f"scales must be a non-empty list of positive zooms, got {scales}")
    total: Tensor | None = None
    for s in scales:
        view = inputs if s == 1 else _zoom(inputs, s)
        hm = forward(view) if flip_pairs is None else flip_test(forward, view, flip_pairs)
        hm = hm.float() if s == 1 else _zoom(hm, 1.0 / s)
        total = hm if total is None else total + hm
    return total / len(scales)


def _zoom(images: Tensor, scale: float) -> Tensor:
    """Resample ``images`` so that output normalised point ``u`` shows input point ``scale·u``."""
    x = images.float()
    theta = torch.zeros(x.shape[0], 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = scale
    theta[:, 1, 1] = scale
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _pair_permutation(flip_pairs: Sequence[tuple[int, int]], num_joints: int) -> list[int]:
    perm = list(range(num_joints))
    seen: set[int] = set()
    for a, b in flip_pairs:
        if not (0 <= a < num_joints and 0 <= b < num_joints) or a == b:
            raise ValueError(
                f"flip pair {(a, b)} is invalid for {num_joints} heatmap channels; "
                "use flip_pairs_for(joint_ids) to get pairs for a joint subset"
            )
        if a in seen or b in seen:
            raise ValueError(f"flip pairs {list(flip_pairs)} use a joint twice")
        seen.update((a, b))
        perm[a], perm[b] = b, a
    return perm


def _check_joints(joints: Tensor, weights: Tensor) -> None:
    if joints.dim() != 3 or joints.shape[-1] != 2:
        raise ValueError(f"joints must be B×J×2 (x, y), got shape {tuple(joints.shape)}")
    if weights.shape != joints.shape[:2]:
        raise ValueError(f"weights must be B×J = {tuple(joints.shape[:2])}, got {tuple(weights.shape)}")


def _check_images(inputs: Tensor) -> None:
    if inputs.dim() != 4:
        raise ValueError(f"inputs must be B×C×S×S images, got shape {tuple(inputs.shape)}")
