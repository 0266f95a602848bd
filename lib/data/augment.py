"""Training batches built on the training device: affine augmentation and heatmap targets.

Each paper's augmentation recipe is an :class:`AugmentConfig` (PBN Sec. 4.1: scaling ±0.25,
rotation ±30°, shearing ±0.5, horizontal flipping and colour jittering; KPTransfer Sec. 3.3:
scale 0.75-1.25 and rotation ±30° only). A batch is built from a :class:`DeviceData` (a
PoseSet's arrays on the device) in a handful of batched tensor operations: one 2×3 matrix per
sample, one ``affine_grid`` + ``grid_sample`` for the pixels, the same matrices for the joints,
then :func:`lib.heatmaps.gaussian_targets`. Nothing loops over samples in Python and nothing
waits for the device, so the pipeline keeps up with training on a GPU.

Geometry (pixel centres at integer coordinates, see :mod:`lib.heatmaps`): without augmentation
the person box (side ``R / margin`` in the middle of the ``R``-pixel crop) fills the ``S×S``
input. Augmentation composes, about the centre, ``f · Rot(θ) · Shear(k) · Flip`` with the map
from input to crop pixels: ``f > 1`` shows more of the crop (a smaller person). The papers do
not give distributions; we draw each parameter uniformly in its range (``f`` in
``[1 - scale, 1 + scale]``, ``θ`` in ``±rotation`` degrees, a horizontal shear ``x += k·y`` with
``k`` in ``±shear``), flip with probability 1/2 and, for colour, multiply each RGB channel by a
factor in ``[1 - color, 1 + color]`` (pytorch-pose's jitter). Input area outside the crop is
black.

Inputs are RGB in ``[0, 1]`` (pixel / 255), as in Newell et al.'s hourglass code; no mean is
subtracted (the first batch norm absorbs it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from lib.data.poseset import PoseSet
from lib.heatmaps import flip_pairs_for, gaussian_targets, has_target, to_heatmap, to_input

#: Heatmaps are ``input_size / STRIDE`` pixels wide (the hourglass's output stride).
STRIDE = 4


@dataclass(frozen=True)
class AugmentConfig:
    """Random augmentation of training samples; every field 0 / False disables that part.

    Attributes:
        scale: the crop shown is ``1 ± scale`` times the person box (uniform).
        rotation: rotation range in degrees, ``±rotation`` (uniform).
        shear: horizontal shear factor range, ``±shear`` (uniform).
        flip: mirror half of the samples, swapping left and right joints.
        color: per-channel multiplicative colour jitter range, ``1 ± color`` (uniform).
    """

    scale: float = 0.25
    rotation: float = 30.0
    shear: float = 0.5
    flip: bool = True
    color: float = 0.2

    def __post_init__(self) -> None:
        for name in ("scale", "rotation", "shear", "color"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"AugmentConfig.{name} must be a finite number >= 0, got {v!r}")
        if self.scale >= 1 or self.color >= 1:
            raise ValueError(f"AugmentConfig.scale and .color must be < 1 (factors 1 ± x stay positive), got {self.scale}, {self.color}")


#: PBN Sec. 4.1: scaling ±0.25, rotation ±30°, shearing ±0.5, flipping, colour jittering.
PBN_AUGMENT = AugmentConfig(scale=0.25, rotation=30.0, shear=0.5, flip=True, color=0.2)
#: KPTransfer Sec. 3.3: "0.75-1.25 scale augmentation and ±30 degree of rotation augmentation".
KPTRANSFER_AUGMENT = AugmentConfig(scale=0.25, rotation=30.0, shear=0.0, flip=False, color=0.0)
#: No augmentation: the person box onto the input, as at test time.
NO_AUGMENT = AugmentConfig(scale=0.0, rotation=0.0, shear=0.0, flip=False, color=0.0)
#: Every augmentation by the name an experiment's config gives (``lib.experiments.DataConfig.augment``),
#: used by the training engine, ``python -m lib.data`` and the figures: the one list of these names.
AUGMENTS: dict[str, AugmentConfig] = {"pbn": PBN_AUGMENT, "kptransfer": KPTRANSFER_AUGMENT, "none": NO_AUGMENT}


@dataclass
class DeviceData:
    """A :class:`PoseSet`'s arrays as tensors on one device, ready for :func:`make_batch`.

    Attributes:
        images: ``N×3×R×R`` uint8 crops (channels first, kept uint8 to save device memory).
        joints: ``N×J×2`` float32 crop pixels.
        annotated, visible: ``N×J`` bool.
        norm: ``N`` float32 PCK normaliser in crop pixels.
        flip_perm: ``J`` long, the joint each joint becomes under a horizontal flip.
        flip_pairs: the left/right pairs as joint positions (for :func:`lib.heatmaps.flip_test`).
        margin: crop side / person-box side.
    """

    images: Tensor
    joints: Tensor
    annotated: Tensor
    visible: Tensor
    norm: Tensor
    flip_perm: Tensor
    flip_pairs: tuple[tuple[int, int], ...]
    margin: float

    @classmethod
    def from_poseset(cls, ps: PoseSet, device: torch.device | str) -> "DeviceData":
        pairs = tuple(flip_pairs_for(ps.joint_ids))
        perm = list(range(ps.num_joints))
        for a, b in pairs:
            perm[a], perm[b] = b, a
        dev = torch.device(device)
        return cls(
            images=torch.from_numpy(ps.images).permute(0, 3, 1, 2).contiguous().to(dev),
            joints=torch.from_numpy(ps.joints.astype("float32")).to(dev),
            annotated=torch.from_numpy(ps.annotated.astype(bool)).to(dev),
            visible=torch.from_numpy(ps.visible.astype(bool)).to(dev),
            norm=torch.from_numpy(ps.norm.astype("float32")).to(dev),
            flip_perm=torch.tensor(perm, dtype=torch.long, device=dev),
            flip_pairs=pairs,
            margin=float(ps.margin),
        )

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def resolution(self) -> int:
        return int(self.images.shape[-1])

    @property
    def device(self) -> torch.device:
        return self.images.device


@dataclass
class Batch:
    """One training batch, all on the data's device.

    Attributes:
        inputs: ``B×3×S×S`` float32 RGB in ``[0, 1]``.
        targets: ``B×J×S/4×S/4`` float32 Gaussian heatmaps (:func:`lib.heatmaps.gaussian_targets`).
        weights: ``B×J`` float32, 1 where the joint is annotated and its Gaussian touches the map.
        joints: ``B×J×2`` float32 joint positions in heatmap pixels (after flip relabelling).
        visible: ``B×J`` bool visibility after flip relabelling.
    """

    inputs: Tensor
    targets: Tensor
    weights: Tensor
    joints: Tensor
    visible: Tensor


def sample_transforms(n: int, aug: AugmentConfig, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """Random ``B×2×2`` linear maps (input → crop direction, before box scaling), flip flags, colour factors.

    Draws from ``generator`` on its own device, so a seed gives the same augmentation on CPU
    and GPU; the caller moves the results to the data's device.
    """
    u = torch.rand(n, 7, generator=generator, device=generator.device, dtype=torch.float64) * 2 - 1
    f = 1 + aug.scale * u[:, 0]
    theta = torch.deg2rad(aug.rotation * u[:, 1])
    k = aug.shear * u[:, 2]
    flip = (u[:, 3] > 0) & aug.flip
    cos, sin = torch.cos(theta), torch.sin(theta)
    rot = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    shear = torch.eye(2, dtype=u.dtype, device=u.device).repeat(n, 1, 1)
    shear[:, 0, 1] = k
    mirror = torch.ones(n, 2, dtype=u.dtype, device=u.device)
    mirror[:, 0] = torch.where(flip, -1.0, 1.0)
    linear = f[:, None, None] * rot @ shear * mirror[:, None, :]
    color = 1 + aug.color * u[:, 4:7]
    return linear.float(), flip, color.float()


def make_batch(data: DeviceData, index: Tensor, aug: AugmentConfig, input_size: int,
               generator: torch.Generator, sigma: float = 1.0) -> Batch:
    """Augmented inputs and targets of the people ``index`` (``B`` long), deterministic given ``generator``.

    The pixels are warped by ``grid_sample`` with the same matrix that maps the joints, so a
    joint lands on its pixels exactly (up to bilinear resampling); see the module docstring.
    """
    _check_size(input_size)
    index = _to_device(index, data.device)
    n = index.shape[0]
    linear, flip, color = (_to_device(t, data.device) for t in sample_transforms(n, aug, generator))
    box_px = data.resolution / data.margin / input_size  # crop px per input px, unaugmented
    m = linear * box_px  # input px (about the centre) -> crop px (about the centre)
    inputs = _warp(data.images[index], m, input_size)
    inputs = (inputs * color[:, :, None, None]).clamp_(0, 1)

    centre_crop, centre_in = (data.resolution - 1) / 2, (input_size - 1) / 2
    rel = data.joints[index] - centre_crop  # B×J×2 about the crop centre
    joints_in = rel @ _inverse_2x2(m).transpose(1, 2) + centre_in
    perm = torch.where(flip[:, None], data.flip_perm[None, :], torch.arange(data.flip_perm.shape[0], device=data.device))
    joints_in = joints_in.gather(1, perm[..., None].expand(-1, -1, 2))
    annotated = data.annotated[index].gather(1, perm)
    visible = data.visible[index].gather(1, perm)

    size = input_size // STRIDE
    joints_hm = to_heatmap(joints_in, STRIDE)
    weights = (annotated & has_target(joints_hm, annotated, size, sigma)).float()
    targets = gaussian_targets(joints_hm, weights, size, sigma)
    return Batch(inputs=inputs, targets=targets, weights=weights, joints=joints_hm, visible=visible)


def eval_inputs(data: DeviceData, index: Tensor, input_size: int) -> Tensor:
    """Unaugmented ``B×3×S×S`` inputs in ``[0, 1]``: the person box of each crop onto the input."""
    _check_size(input_size)
    index = _to_device(index, data.device)
    box_px = data.resolution / data.margin / input_size
    m = torch.eye(2, device=data.device).repeat(index.shape[0], 1, 1) * box_px
    return _warp(data.images[index], m, input_size)


def heatmap_to_crop(coords: Tensor, data: DeviceData | PoseSet, input_size: int) -> Tensor:
    """Heatmap-pixel predictions (``B×J×2``, of :func:`eval_inputs` inputs) in crop pixels.

    The inverse of the unaugmented map, so predictions compare directly with
    ``PoseSet.joints`` and ``PoseSet.norm``.
    """
    _check_size(input_size)
    box_px = data.resolution / data.margin / input_size
    rel = to_input(coords.float(), STRIDE) - (input_size - 1) / 2
    return rel * box_px + (data.resolution - 1) / 2


def _warp(images_u8: Tensor, m: Tensor, input_size: int) -> Tensor:
    """``grid_sample`` of ``B×3×R×R`` uint8 crops at ``crop = centre + m · (input − centre)``, in ``[0, 1]``.

    With ``align_corners=False`` normalised coordinates are ``u = (2·px + 1) / size - 1``, so
    the pixel map becomes ``u_crop = (S / R) · m · u_in``.
    """
    r = images_u8.shape[-1]
    theta = torch.zeros(m.shape[0], 2, 3, device=m.device, dtype=torch.float32)
    theta[:, :, :2] = m * (input_size / r)
    grid = F.affine_grid(theta, [m.shape[0], 3, input_size, input_size], align_corners=False)
    x = images_u8.float().div_(255)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _to_device(t: Tensor, device: torch.device) -> Tensor:
    """Move ``t`` without blocking the host: a pageable host-to-GPU copy would wait for the GPU."""
    if t.device == device:
        return t
    if device.type == "cuda" and t.device.type == "cpu":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def _inverse_2x2(m: Tensor) -> Tensor:
    """Closed-form inverse of ``B×2×2`` matrices (``linalg.inv`` would sync to check for errors)."""
    a, b, c, d = m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1]
    det = a * d - b * c
    return torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2) / det[:, None, None]


def _check_size(input_size: int) -> None:
    if input_size < STRIDE or input_size % STRIDE:
        raise ValueError(f"input_size must be a positive multiple of {STRIDE} (heatmaps are input_size/{STRIDE}), got {input_size}")
