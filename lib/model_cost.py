"""What a network costs: parameters and multiply-accumulates, by part, and PBN Table 6's counts.

Separate from :mod:`lib.models` (what the networks are) because counting runs a model: a forward
pass with hooks for MACs, a ``meta``-device build for Table 6. The counts themselves are worked
out layer by layer in :mod:`lib.models`' docstring. Command line::

    python -m lib.model_cost summary --stacks 8 --head pbn --groups mi5
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, fields

import torch
from torch import Tensor, nn

from lib.joints import named_groups
from lib.models import FUSIONS, HEADS, STEMS, ModelConfig, build_model


def count_params(model: nn.Module) -> int:
    """All parameters (trainable or frozen), without buffers such as BN running statistics."""
    return sum(p.numel() for p in model.parameters())


def macs_by_module(model: nn.Module, input_size: int) -> dict[str, int]:
    """Multiply-accumulates of each ``Conv2d`` / ``Linear`` for one S×S image, by module name.

    Counted with forward hooks in one eval-mode forward pass of a zero image: a conv costs
    (output elements) × (in_channels / groups) × kernel area, a linear layer (output elements) ×
    in_features. Bias additions, BatchNorm, ReLU, pooling, upsampling, residual and fusion
    additions and the PBN overlap average are not counted (each is O(output) and small).
    """
    macs: dict[str, int] = {}

    def hook(name: str):
        def record(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            per_image = output.numel() // output.shape[0]
            if isinstance(module, nn.Conv2d):
                k = module.kernel_size[0] * module.kernel_size[1]
                macs[name] = macs.get(name, 0) + per_image * (module.in_channels // module.groups) * k
            else:
                macs[name] = macs.get(name, 0) + per_image * module.in_features
        return record

    handles = [m.register_forward_hook(hook(name)) for name, m in model.named_modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    param = next(model.parameters())
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, input_size, input_size, device=param.device, dtype=param.dtype))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return macs


def count_macs(model: nn.Module, input_size: int) -> int:
    """Total multiply-accumulates of one forward pass of one image; see :func:`macs_by_module`."""
    return sum(macs_by_module(model, input_size).values())


def table6_parameters():
    """PBN Table 6's parameter counts beside ours: eight stacks, 16 joints, 256 channels, 256×256.

    A ``pandas.DataFrame`` with rows ``Deep BS (8 stacks)`` and ``Ours (8 stacks)`` (PBN, ``MI5_GROUPS``,
    D = 1, W = 64) and columns ``ours`` (count), ``ours (M)`` and ``paper (M)``
    (:data:`lib.paper.PBN_TABLE6`). Counted on PyTorch's ``meta`` device (shapes only), so it is
    instant and needs no memory.
    """
    import pandas as pd  # the book's tables only: training never needs pandas

    from lib.joints import MI5_GROUPS
    from lib.paper import PBN_TABLE6  # lib.paper imports lib.experiments, which imports this module

    ours = {}
    for label, head in (("Deep BS (8 stacks)", "deep"), ("Ours (8 stacks)", "pbn")):
        cfg = ModelConfig(num_joints=16, stacks=8, channels=256, head=head,
                          groups=MI5_GROUPS if head == "pbn" else (), input_size=256)
        with torch.device("meta"):
            ours[label] = count_params(build_model(cfg))
    counts = pd.Series(ours)
    return pd.DataFrame({"ours": counts, "ours (M)": (counts / 1e6).round(2), "paper (M)": PBN_TABLE6["Params (M)"]})


# --------------------------------------------------------------------------------------------
# Command line


_PARTS = (("stem", "stem."), ("hourglasses", ".hourglass."), ("residual + lin", ".residual."),
          ("residual + lin", ".lin."), ("heads", ".head."), ("fusions", "fusions."))


def _part(name: str) -> str:
    for part, key in _PARTS:
        if name.startswith(key) or key in name:
            return part
    return "other"


def summarize(cfg: ModelConfig) -> dict:
    """Parameters and MACs of the model ``cfg`` describes, total and by part, plus the config."""
    model = build_model(cfg)
    parts: dict[str, dict[str, int]] = {}
    for name, p in model.named_parameters():
        parts.setdefault(_part(name), {"params": 0, "macs": 0})["params"] += p.numel()
    for name, m in macs_by_module(model, cfg.input_size).items():
        parts.setdefault(_part(name + "."), {"params": 0, "macs": 0})["macs"] += m
    return {"params": count_params(model), "macs": sum(p["macs"] for p in parts.values()), "parts": parts,
            "config": asdict(cfg)}


def _config_from_args(args: argparse.Namespace) -> ModelConfig:
    groups = named_groups(args.groups) if args.head == "pbn" else ()
    return ModelConfig(num_joints=args.joints, stacks=args.stacks, head=args.head, groups=groups, depth=args.depth,
                       width=args.width, fusion=args.fusion, stem=args.stem, input_size=args.input,
                       hourglass_depth=args.hourglass_depth)


def main(argv: list[str] | None = None) -> int:
    """``python -m lib.model_cost summary ...``: print parameters and MACs (``--json``: last line JSON)."""
    parser = argparse.ArgumentParser(prog="python -m lib.model_cost", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("summary", help="parameters and multiply-accumulates of one configuration")
    defaults = {f.name: f.default for f in fields(ModelConfig)}
    s.add_argument("--stacks", type=int, default=defaults["stacks"])
    s.add_argument("--head", choices=HEADS, default=defaults["head"])
    s.add_argument("--groups", default="mi5", help="named groups for head pbn: body, mi5, mi5_overlap")
    s.add_argument("--depth", type=int, default=defaults["depth"], help="D, residual blocks per branch")
    s.add_argument("--width", type=int, default=defaults["width"], help="W, channels per branch")
    s.add_argument("--fusion", choices=FUSIONS, default=defaults["fusion"])
    s.add_argument("--stem", choices=STEMS, default=defaults["stem"])
    s.add_argument("--joints", type=int, default=defaults["num_joints"])
    s.add_argument("--input", type=int, default=defaults["input_size"], help="input side S (multiple of 64)")
    s.add_argument("--hourglass-depth", type=int, default=defaults["hourglass_depth"], help="0 = auto")
    s.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # one small forward pass: thread start-up would cost more than it saves
    try:
        cfg = _config_from_args(args)
        summary = summarize(cfg)
    except ValueError as e:
        parser.error(str(e))
    groups = f", groups {args.groups}" if cfg.head == "pbn" else ""
    print(f"{cfg.stacks}-stack {cfg.head} head{groups}, stem {cfg.stem}, fusion {cfg.fusion}, "
          f"{cfg.num_joints} joints, input {cfg.input_size}×{cfg.input_size}")
    print(f"{'part':<16}{'params':>14}{'GMACs':>10}")
    for part, v in summary["parts"].items():
        print(f"{part:<16}{v['params']:>14,}{v['macs'] / 1e9:>10.3f}")
    print(f"{'total':<16}{summary['params']:>14,}{summary['macs'] / 1e9:>10.3f}"
          f"   ({summary['params'] / 1e6:.2f}M parameters, {summary['macs'] / 1e9:.2f} GMACs)")
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
