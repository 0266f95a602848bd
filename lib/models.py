"""Stacked hourglass networks with linear, deep-baseline and part-based branching (PBN) heads.

One model family covers both papers:

* **PBN** (Tang & Wu, CVPR 2019, Sec. 3.2-3.3, Fig. 3-4): a stem, then per stack a shared
  trunk (hourglass, residual, ``lin``) and one branch per joint group (1×1 conv 256→W, D
  residual blocks at W channels, 1×1 conv W→heatmaps of the group). Stacks are fused as in
  Newell's hourglass: next input = input + 1×1(heatmaps) + 1×1(features).
* **Deep baseline** (PBN Sec. 4.3, "Deep BS"): the branches replaced by one 256-channel residual
  block and a linear layer; **linear baseline**: the branches replaced by a linear layer, i.e.
  Newell's stacked hourglass (ECCV 2016).
* **KPTransfer** (Vats et al. 2019, Sec. 3.1-3.2, Fig. 1): a plain stacked hourglass whose stacks
  may predict different joint subsets (``stack_joints``), with :func:`transfer_stacks` and
  :func:`freeze_stacks` for the "transfer learning" and "frozen weights" configurations.

Parameter counts (PBN Table 6). Every layer follows Newell's Torch code (``pose-hg-train``), on
which the PBN implementation is built: every convolution has a bias, the residual block is
pre-activation with three BatchNorms and a C/2 bottleneck, ``lin`` is 1×1 conv + BN + ReLU.
With C = 256 and 16 joints:

* residual block 256→256: 214,528; hourglass of depth 4: 13 blocks = 2,788,864;
* per stack: hourglass + residual + ``lin`` (66,304) = 3,069,696; fusion 1×1s (65,792 + 4,352);
* Newell stem (7×7 conv + BN, residuals 64→128, 128→128, 128→256): 352,640;
  PBN stem (three 3×3 convs with BN, same residuals): 419,072;
* heads: linear 4,112; deep 214,528 + 4,112 = 218,640; PBN with ``MI5_GROUPS``, D = 1, W = 64:
  5 × (16,448 + 128 [``lin`` 256→64] + 13,696 [residual at 64]) + 16 × 65 = 152,400.

Eight stacks with the PBN stem then give **26,686,848** parameters for PBN and **27,216,768**
for the deep baseline, Table 6's printed millions (:data:`lib.paper.PBN_TABLE6`, side by side in
:func:`lib.model_cost.table6_parameters`); Newell's own 8-stack hourglass (Newell stem, linear head) is
25,434,112. The reduce layer of a branch is Newell's ``lin`` (with BN and ReLU): with a bare
1×1 conv PBN would have 26,681,728 (26.68M), one rounding step
from the printed figure; the deep baseline's residual is added after ``lin``, not instead of it
("replacing our branches with a 256-channel residual block, followed by a linear layer").

Cost at 256×256 (:func:`lib.model_cost.count_macs`): 33.37 GMACs for the 8-stack PBN, 35.59 for the deep
baseline ("fewer parameters and a lower computational complexity", Sec. 4.3), 27.44 for
Newell's hourglass; the PBN stem alone is 3.42 GMACs because its first 3×3 conv runs at 256×256.

Weights use PyTorch's default initialisation (Kaiming-uniform convolutions, BN γ=1, β=0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lib.joints import Groups, validate_groups

HEADS = ("linear", "deep", "pbn")
FUSIONS = ("shared", "specific")
STEMS = ("pbn", "newell")
MAX_HOURGLASS_DEPTH = 4  # 64×64 → 4×4, PBN Sec. 3.2 and KPTransfer Sec. 3.1


@dataclass(frozen=True)
class ModelConfig:
    """Everything that defines a model; :func:`build_model` validates it.

    Attributes:
        num_joints: heatmaps of the final stack (the prediction).
        stacks: number of stacked hourglasses (PBN Sec. 3.3, Fig. 4).
        channels: trunk width C (256 in both papers).
        head: ``linear`` (Newell / PBN's linear baseline), ``deep`` (PBN's Deep BS) or ``pbn``.
        groups: joint groups, indices into ``range(num_joints)``; required for ``pbn``; groups may
            overlap (PBN Fig. 5(f)), a joint predicted by several branches gets their average.
        depth: D, residual blocks per branch (PBN Sec. 3.2, Fig. 5(a)).
        width: W, channels of a branch (PBN Sec. 3.2, Fig. 5(b)).
        fusion: ``shared`` (Fig. 4 orange: trunk features feed the next stack) or ``specific``
            (Fig. 4 green: the head's own features, see :class:`Fusion`).
        stem: ``pbn`` (three 3×3 convs, PBN Sec. 3.2) or ``newell`` (7×7 stride-2 conv).
        input_size: side S of the square input, a multiple of 64; heatmaps are S/4.
        stack_joints: heatmaps per stack (KPTransfer); empty means ``num_joints`` everywhere,
            otherwise one entry per stack and the last must equal ``num_joints``.
        hourglass_depth: poolings inside one hourglass; 0 picks min(4, log2(S/16)), i.e. down
            to 4×4 for S = 64, 128, 256 (6×6 for S = 192).
    """

    num_joints: int = 16
    stacks: int = 8
    channels: int = 256
    head: str = "pbn"
    groups: Groups = ()
    depth: int = 1
    width: int = 64
    fusion: str = "shared"
    stem: str = "pbn"
    input_size: int = 256
    stack_joints: tuple[int, ...] = ()
    hourglass_depth: int = 0

    def __post_init__(self) -> None:
        # Normalise lists (e.g. from a JSON record) to tuples so configs stay hashable.
        object.__setattr__(self, "groups", tuple(tuple(int(j) for j in g) for g in self.groups))
        object.__setattr__(self, "stack_joints", tuple(int(j) for j in self.stack_joints))

    @property
    def joints_per_stack(self) -> tuple[int, ...]:
        """Heatmaps predicted by each stack."""
        return self.stack_joints or (self.num_joints,) * self.stacks

    @property
    def resolved_hourglass_depth(self) -> int:
        """Poolings per hourglass: the configured value, or the deepest one reaching ≥ 4×4."""
        if self.hourglass_depth:
            return self.hourglass_depth
        return max(1, min(MAX_HOURGLASS_DEPTH, int(math.log2(self.input_size // 16))))


def validate_config(cfg: ModelConfig) -> None:
    """Raise ``ValueError`` naming the first problem of ``cfg`` and how to fix it."""
    for name, value, choices in (("head", cfg.head, HEADS), ("fusion", cfg.fusion, FUSIONS), ("stem", cfg.stem, STEMS)):
        if value not in choices:
            raise ValueError(f"unknown {name} {value!r}; choose one of {list(choices)}")
    if cfg.stacks < 1 or cfg.num_joints < 1:
        raise ValueError(f"stacks ({cfg.stacks}) and num_joints ({cfg.num_joints}) must be at least 1")
    if cfg.channels < 2 or cfg.channels % 2:
        raise ValueError(f"channels must be a positive even number (bottleneck uses C/2), got {cfg.channels}")
    if cfg.input_size < 64 or cfg.input_size % 64:
        raise ValueError(f"input_size must be a positive multiple of 64 (64, 128, 192, 256, ...), got {cfg.input_size}")
    d = cfg.resolved_hourglass_depth
    if d < 1 or (cfg.input_size // 4) % 2**d:
        raise ValueError(f"hourglass_depth {d} needs input_size/4 = {cfg.input_size // 4} divisible by 2**{d}; "
                         "lower hourglass_depth or set it to 0 (auto)")
    if cfg.stack_joints:
        if len(cfg.stack_joints) != cfg.stacks:
            raise ValueError(f"stack_joints has {len(cfg.stack_joints)} entries for {cfg.stacks} stacks; "
                             "give one per stack")
        if min(cfg.stack_joints) < 1:
            raise ValueError(f"stack_joints must be positive, got {cfg.stack_joints}")
        if cfg.stack_joints[-1] != cfg.num_joints:
            raise ValueError(f"num_joints ({cfg.num_joints}) must equal stack_joints[-1] ({cfg.stack_joints[-1]}), "
                             f"the joints of the final prediction; set num_joints={cfg.stack_joints[-1]}")
    if cfg.head == "pbn":
        if not cfg.groups:
            raise ValueError("head 'pbn' needs groups, e.g. groups=lib.joints.MI5_GROUPS")
        validate_groups(cfg.groups, cfg.num_joints)
        if any(j != cfg.num_joints for j in cfg.joints_per_stack):
            raise ValueError(f"head 'pbn' needs the same joints in every stack (groups index them), got "
                             f"stack_joints={cfg.stack_joints}; use head 'linear' or 'deep' for per-stack subsets")
        if cfg.width < 2 or cfg.width % 2 or cfg.depth < 0:
            raise ValueError(f"pbn branches need an even width ≥ 2 and depth ≥ 0, "
                             f"got width={cfg.width}, depth={cfg.depth}")
    elif cfg.groups:
        raise ValueError(f"groups are only used by head 'pbn', not {cfg.head!r}; drop them or use head='pbn'")
    if cfg.fusion == "specific" and cfg.head == "linear":
        raise ValueError("fusion 'specific' needs head-specific features; use head 'pbn' or 'deep', or fusion 'shared'")


# --------------------------------------------------------------------------------------------
# Building blocks


class Residual(nn.Module):
    """Pre-activation bottleneck block (PBN Sec. 3.2 footnote 2; Newell's ``Residual.lua``).

    BN-ReLU-conv1×1(out/2)-BN-ReLU-conv3×3(out/2)-BN-ReLU-conv1×1(out), plus the input, or a
    1×1 projection of it when the channel count changes.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        mid = out_channels // 2
        self.body = nn.Sequential(
            nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True), nn.Conv2d(in_channels, mid, 1),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, mid, 3, padding=1),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, out_channels, 1),
        )
        self.skip = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        # skip first: the body's first ReLU is in place on BN's output, never on x itself.
        return self.skip(x) + self.body(x)


def conv_bn_relu(in_channels: int, out_channels: int, kernel: int = 1, stride: int = 1) -> nn.Sequential:
    """Conv + BN + ReLU; with a 1×1 kernel this is Newell's ``lin`` layer."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2),
        nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
    )


class Hourglass(nn.Module):
    """Recursive hourglass (Newell Sec. 3.1; PBN Sec. 3.2): pool, recurse, upsample, add.

    At each level an upper residual keeps the pre-pooled resolution; the lower path pools,
    applies a residual, recurses (or one more residual at the bottom), applies a residual and is
    upsampled by nearest neighbour, then both are added. ``depth`` levels take 64×64 to 4×4 at
    depth 4, using 3·depth + 1 residual blocks of ``channels``.
    """

    def __init__(self, depth: int, channels: int) -> None:
        super().__init__()
        self.up = Residual(channels, channels)
        self.down = Residual(channels, channels)
        self.inner: nn.Module = Hourglass(depth - 1, channels) if depth > 1 else Residual(channels, channels)
        self.after = Residual(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        low = self.after(self.inner(self.down(F.max_pool2d(x, 2))))
        return self.up(x) + F.interpolate(low, scale_factor=2.0, mode="nearest")


def build_stem(name: str, channels: int) -> nn.Sequential:
    """Input image S×S×3 → features S/4 × S/4 × ``channels``.

    ``pbn`` (PBN Sec. 3.2): 3×3 conv 64 (stride 1), 2×2 pool, two 3×3 convs 64, residual 128,
    pool, residuals 128 and ``channels``. ``newell`` (Newell Sec. 3.1): 7×7 stride-2 conv 64,
    residual 128, pool, residuals 128 and ``channels``. Every conv here is followed by BN + ReLU.
    """
    if name == "pbn":
        return nn.Sequential(
            conv_bn_relu(3, 64, 3), nn.MaxPool2d(2), conv_bn_relu(64, 64, 3), conv_bn_relu(64, 64, 3),
            Residual(64, 128), nn.MaxPool2d(2), Residual(128, 128), Residual(128, channels),
        )
    if name == "newell":
        return nn.Sequential(
            conv_bn_relu(3, 64, 7, stride=2), Residual(64, 128), nn.MaxPool2d(2),
            Residual(128, 128), Residual(128, channels),
        )
    raise ValueError(f"unknown stem {name!r}; choose one of {list(STEMS)}")


# --------------------------------------------------------------------------------------------
# Heads: each maps the trunk features to (heatmaps, head-specific features or None).


class LinearHead(nn.Module):
    """1×1 conv to all joints (Newell; PBN's linear baseline, Sec. 4.3)."""

    def __init__(self, channels: int, joints: int) -> None:
        super().__init__()
        self.out = nn.Conv2d(channels, joints, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        return self.out(x), None


class DeepHead(nn.Module):
    """PBN's deep baseline (Sec. 4.3, Table 6): one ``channels`` residual block, then a 1×1 conv."""

    def __init__(self, channels: int, joints: int) -> None:
        super().__init__()
        self.block = Residual(channels, channels)
        self.out = nn.Conv2d(channels, joints, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        features = self.block(x)
        return self.out(features), features


class Branch(nn.Module):
    """One PBN branch (Sec. 3.2, Fig. 3): ``lin`` C→W, D residual blocks at W, 1×1 conv W→|group|."""

    def __init__(self, channels: int, width: int, depth: int, joints: int) -> None:
        super().__init__()
        self.reduce = conv_bn_relu(channels, width)
        self.blocks = nn.Sequential(*(Residual(width, width) for _ in range(depth)))
        self.out = nn.Conv2d(width, joints, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.blocks(self.reduce(x))
        return self.out(features), features


class PBNHead(nn.Module):
    """All branches of one stack, their heatmaps put back in joint order (PBN Sec. 3.2, 4.3).

    Branch outputs are concatenated (K = Σ|group| channels) and gathered into joint order by
    the fixed buffers ``index`` (J×M, M = most branches predicting one joint) and ``weight``
    (1/count, 0 for padding), so a joint of overlapping groups gets the mean of its branches'
    heatmaps (Fig. 5(f)). Elementwise, hence exact, and free of data-dependent control flow.
    """

    def __init__(self, channels: int, groups: Groups, width: int, depth: int, joints: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(Branch(channels, width, depth, len(g)) for g in groups)
        sources: list[list[int]] = [[] for _ in range(joints)]
        for k, j in enumerate(j for g in groups for j in g):
            sources[j].append(k)
        m = max(len(s) for s in sources)
        index = torch.tensor([s + [0] * (m - len(s)) for s in sources], dtype=torch.long)
        weight = torch.tensor([[1.0 / len(s)] * len(s) + [0.0] * (m - len(s)) for s in sources])
        self.register_buffer("index", index, persistent=False)
        self.register_buffer("weight", weight, persistent=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        outs = [branch(x) for branch in self.branches]
        stacked = torch.cat([h for h, _ in outs], dim=1)  # B×K×H×W
        gathered = stacked[:, self.index]  # B×J×M×H×W
        heatmaps = (gathered * self.weight.to(gathered.dtype)[None, :, :, None, None]).sum(dim=2)
        return heatmaps, torch.cat([f for _, f in outs], dim=1)


def build_head(cfg: ModelConfig, joints: int) -> nn.Module:
    """The head named by ``cfg.head`` for a stack predicting ``joints`` heatmaps."""
    if cfg.head == "linear":
        return LinearHead(cfg.channels, joints)
    if cfg.head == "deep":
        return DeepHead(cfg.channels, joints)
    if cfg.head == "pbn":
        return PBNHead(cfg.channels, cfg.groups, cfg.width, cfg.depth, joints)
    raise ValueError(f"unknown head {cfg.head!r}; choose one of {list(HEADS)}")


def head_feature_channels(cfg: ModelConfig) -> int:
    """Channels of the head-specific features fused by ``fusion='specific'``."""
    return len(cfg.groups) * cfg.width if cfg.head == "pbn" else cfg.channels


# --------------------------------------------------------------------------------------------
# Stacking


class Stack(nn.Module):
    """One stage: hourglass, residual, ``lin`` (shared trunk, Fig. 3 yellow), then the head."""

    def __init__(self, cfg: ModelConfig, joints: int) -> None:
        super().__init__()
        self.hourglass = Hourglass(cfg.resolved_hourglass_depth, cfg.channels)
        self.residual = Residual(cfg.channels, cfg.channels)
        self.lin = conv_bn_relu(cfg.channels, cfg.channels)
        self.head = build_head(cfg, joints)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """Return (heatmaps, shared features, head-specific features or None)."""
        shared = self.lin(self.residual(self.hourglass(x)))
        heatmaps, specific = self.head(shared)
        return heatmaps, shared, specific


class Fusion(nn.Module):
    """Between stacks (PBN Sec. 3.3, Fig. 4; Newell Sec. 3.4): x + 1×1(features) + 1×1(heatmaps).

    ``features`` are the shared trunk features (``fusion='shared'``, orange) or, for
    ``fusion='specific'`` (green), the head's own features: for PBN the concatenated outputs of
    the branches' residual blocks (groups × W channels, before their heatmap convs), for the deep
    baseline the output of its extra residual block; either is remapped by the 1×1 to C channels.
    """

    def __init__(self, feature_channels: int, joints: int, channels: int) -> None:
        super().__init__()
        self.features = nn.Conv2d(feature_channels, channels, 1)
        self.heatmaps = nn.Conv2d(joints, channels, 1)

    def forward(self, x: Tensor, features: Tensor, heatmaps: Tensor) -> Tensor:
        return x + self.features(features) + self.heatmaps(heatmaps)


class StackedHourglass(nn.Module):
    """Stem, ``cfg.stacks`` stacks and the fusions between them; see the module docstring.

    ``forward(x)`` takes B×3×S×S images and returns one B×J_s×S/4×S/4 heatmap tensor per stack
    (intermediate supervision, PBN Sec. 3.3). ``frozen_stacks`` (set by :func:`freeze_stacks`)
    keeps the stem, the first stacks and their fusions in eval mode through ``train()``.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        validate_config(cfg)
        self.cfg = cfg
        self.frozen_stacks = 0
        self.stem = build_stem(cfg.stem, cfg.channels)
        joints = cfg.joints_per_stack
        self.stacks = nn.ModuleList(Stack(cfg, j) for j in joints)
        feature_channels = head_feature_channels(cfg) if cfg.fusion == "specific" else cfg.channels
        self.fusions = nn.ModuleList(Fusion(feature_channels, j, cfg.channels) for j in joints[:-1])
        self._use_specific = cfg.fusion == "specific"
        self._multiple = 4 * 2**cfg.resolved_hourglass_depth

    def forward(self, x: Tensor) -> list[Tensor]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images B×3×H×W, got shape {tuple(x.shape)}")
        if x.shape[2] % self._multiple or x.shape[3] % self._multiple:
            raise ValueError(f"input side {tuple(x.shape[2:])} must be divisible by {self._multiple} "
                             f"(4 × 2**hourglass_depth); resize the crop or lower hourglass_depth")
        x = self.stem(x)
        out: list[Tensor] = []
        for i, stack in enumerate(self.stacks):
            heatmaps, shared, specific = stack(x)
            out.append(heatmaps)
            if i < len(self.fusions):
                features = specific if self._use_specific and specific is not None else shared
                x = self.fusions[i](x, features, heatmaps)
        return out

    def frozen_modules(self) -> list[nn.Module]:
        """Stem, the first ``frozen_stacks`` stacks and the fusions among them (empty if none)."""
        n = self.frozen_stacks
        if n == 0:
            return []
        return [self.stem, *self.stacks[:n], *self.fusions[: n - 1]]

    def train(self, mode: bool = True) -> StackedHourglass:
        super().train(mode)
        for module in self.frozen_modules():
            module.eval()  # frozen BatchNorms keep using (and never update) their running stats
        return self


def build_model(cfg: ModelConfig) -> StackedHourglass:
    """Validate ``cfg`` and build the model (PyTorch default initialisation)."""
    return StackedHourglass(cfg)


# --------------------------------------------------------------------------------------------
# Transfer and freezing (KPTransfer Sec. 3.2, Fig. 1)


def _stack_prefixes(n: int) -> tuple[str, ...]:
    return ("stem.", *(f"stacks.{i}." for i in range(n)), *(f"fusions.{i}." for i in range(n - 1)))


def transfer_stacks(dst: StackedHourglass, src: StackedHourglass, n: int) -> int:
    """Copy the stem, stacks ``0..n-1`` and the fusions among them from ``src`` into ``dst``.

    KPTransfer Fig. 1(a, b): a trained two-stack network initialises the first two stacks of a
    four-stack one. Parameters and BN running statistics are copied exactly; the fusion from
    stack n-1 into stack n and everything after stay as built. Returns the number of tensors
    copied. Raises ``ValueError`` if either model has fewer than n stacks or a shape differs.
    """
    for name, model in (("src", src), ("dst", dst)):
        if not 1 <= n <= len(model.stacks):
            raise ValueError(f"cannot transfer {n} stacks: {name} has {len(model.stacks)}; "
                             f"choose 1 ≤ n ≤ {len(model.stacks)}")
    prefixes = _stack_prefixes(n)
    src_state = {k: v for k, v in src.state_dict().items() if k.startswith(prefixes)}
    dst_state = {k: v for k, v in dst.state_dict().items() if k.startswith(prefixes)}
    missing = sorted(set(src_state) ^ set(dst_state))
    if missing:
        raise ValueError(f"src and dst differ in layers {missing[:5]}{' ...' if len(missing) > 5 else ''}; "
                         "build both with the same stem, channels, head and hourglass depth")
    bad = [f"{k}: src {tuple(v.shape)} vs dst {tuple(dst_state[k].shape)}"
           for k, v in src_state.items() if v.shape != dst_state[k].shape]
    if bad:
        raise ValueError(f"shape mismatch in {len(bad)} tensors, e.g. {bad[0]}; the first {n} stacks must predict "
                         "the same joint counts (stack_joints) in src and dst")
    with torch.no_grad():
        for k, v in src_state.items():
            dst_state[k].copy_(v)
    return len(src_state)


def freeze_stacks(model: StackedHourglass, n: int) -> StackedHourglass:
    """Freeze the stem, the first ``n`` stacks and their fusions (KPTransfer "frozen weights").

    Their parameters stop requiring gradients and their BatchNorms stay in eval mode even after
    ``model.train()`` (via ``model.frozen_stacks``), so neither weights nor running statistics
    change. The fusion into stack n stays trainable: it is the new network's input layer.
    ``n = 0`` unfreezes everything. Freezing is not saved in ``state_dict``: call again after
    rebuilding a model.
    """
    if not 0 <= n <= len(model.stacks):
        raise ValueError(f"cannot freeze {n} stacks of a {len(model.stacks)}-stack model")
    for p in model.parameters():
        p.requires_grad_(True)
    model.frozen_stacks = n
    for module in model.frozen_modules():
        for p in module.parameters():
            p.requires_grad_(False)
    return model.train(model.training)


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Parameters that require gradients (what the optimiser gets)."""
    return [p for p in model.parameters() if p.requires_grad]
