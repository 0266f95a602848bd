"""Tests of lib.models: shapes, overlap averaging, transfer/freeze, fusion, bad configs."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import pytest
import torch

from lib.joints import MI5_GROUPS, MI5_OVERLAP_GROUPS
from lib.models import ModelConfig, build_model, freeze_stacks, trainable_parameters, transfer_stacks



# Narrow trunks keep forward passes fast; architecture is otherwise the paper's.
SMALL = ModelConfig(num_joints=16, stacks=2, channels=32, head="linear", width=16, input_size=64)


def cfg_for(head: str, **kw) -> ModelConfig:
    kw.setdefault("groups", MI5_GROUPS if head == "pbn" else ())
    return replace(SMALL, head=head, **kw)


@pytest.mark.parametrize("head", ["linear", "deep", "pbn"])
@pytest.mark.parametrize("input_size", [64, 128])
@pytest.mark.parametrize("stacks", [1, 2])
def test_output_shapes(head: str, input_size: int, stacks: int) -> None:
    model = build_model(cfg_for(head, stacks=stacks, input_size=input_size)).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, input_size, input_size))
    assert len(out) == stacks
    for h in out:
        assert h.shape == (2, 16, input_size // 4, input_size // 4)


def test_full_width_and_input_192() -> None:
    cfg = ModelConfig(stacks=1, head="pbn", groups=MI5_GROUPS, input_size=192)
    assert cfg.resolved_hourglass_depth == 3  # 48 → 6×6; 3×3 would lose the 4×4 floor
    model = build_model(cfg).eval()
    with torch.no_grad():
        (h,) = model(torch.randn(1, 3, 192, 192))
    assert h.shape == (1, 16, 48, 48)
    assert ModelConfig(input_size=256).resolved_hourglass_depth == 4
    assert ModelConfig(input_size=64).resolved_hourglass_depth == 2


def test_overlap_groups_average_branch_heatmaps() -> None:
    """Each branch emits constant maps (bias only); a joint in two groups gets the mean."""
    cfg = replace(cfg_for("pbn", stacks=1), groups=MI5_OVERLAP_GROUPS)
    model = build_model(cfg).eval()
    head = model.stacks[0].head
    expected = torch.zeros(16)
    count = torch.zeros(16)
    with torch.no_grad():
        for g, (group, branch) in enumerate(zip(MI5_OVERLAP_GROUPS, head.branches)):
            branch.out.weight.zero_()
            values = torch.tensor([100.0 * g + j for j in group])
            branch.out.bias.copy_(values)
            for j, v in zip(group, values):
                expected[j] += v
                count[j] += 1
        (h,) = model(torch.randn(2, 3, 64, 64))
    expected /= count
    assert count.max() == 2  # the shoulders
    torch.testing.assert_close(h, expected[None, :, None, None].expand_as(h), rtol=0, atol=0)


def test_disjoint_groups_scatter_branch_outputs_into_joint_order() -> None:
    model = build_model(cfg_for("pbn", stacks=1)).eval()
    stack = model.stacks[0]
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        shared = stack.lin(stack.residual(stack.hourglass(model.stem(x))))
        (h,) = model(x)
        for group, branch in zip(MI5_GROUPS, stack.head.branches):
            maps, _ = branch(shared)
            torch.testing.assert_close(h[:, list(group)], maps, rtol=0, atol=0)


def test_stack_joints_shapes_and_fusion_channels() -> None:
    cfg = replace(SMALL, stacks=4, num_joints=6, stack_joints=(8, 8, 6, 6))
    model = build_model(cfg).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 64))
    assert [h.shape[1] for h in out] == [8, 8, 6, 6]
    assert [f.heatmaps.in_channels for f in model.fusions] == [8, 8, 6]


def kptransfer_pair() -> tuple[torch.nn.Module, torch.nn.Module]:
    src = build_model(replace(SMALL, stacks=2, num_joints=8))
    dst = build_model(replace(SMALL, stacks=4, num_joints=6, stack_joints=(8, 8, 6, 6)))
    return src, dst


@pytest.mark.slow
def test_transfer_stacks_copies_exactly() -> None:
    torch.manual_seed(0)
    src, dst = kptransfer_pair()
    # Make src's BN statistics non-trivial so that copying them is actually tested.
    src.train()
    with torch.no_grad():
        src(torch.randn(2, 3, 64, 64))
    copied = transfer_stacks(dst, src, 2)
    assert copied == len(src.state_dict())
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k
    src.eval(), dst.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        a, b = src(x), dst(x)
    torch.testing.assert_close(b[:2], a, rtol=0, atol=0)


def test_transfer_stacks_rejects_mismatch() -> None:
    src = build_model(replace(SMALL, stacks=2, num_joints=5))
    _, dst = kptransfer_pair()
    with pytest.raises(ValueError, match="shape mismatch"):
        transfer_stacks(dst, src, 2)
    with pytest.raises(ValueError, match="src has 2"):
        transfer_stacks(dst, src, 3)
    with pytest.raises(ValueError, match="differ in layers"):
        transfer_stacks(dst, build_model(replace(SMALL, stacks=2, num_joints=8, stem="newell")), 2)


def test_freeze_stacks_freezes_weights_and_batchnorm() -> None:
    torch.manual_seed(0)
    _, model = kptransfer_pair()
    freeze_stacks(model, 2)
    model.train()
    frozen = [model.stem, model.stacks[0], model.stacks[1], model.fusions[0]]
    free = [model.fusions[1], model.fusions[2], model.stacks[2], model.stacks[3]]
    assert all(not m.training for f in frozen for m in f.modules())
    assert all(m.training for f in free for m in f.modules())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = model(torch.randn(2, 3, 64, 64))
    sum(h.pow(2).mean() for h in out[2:]).backward()
    for f in frozen:
        assert all(p.grad is None and not p.requires_grad for p in f.parameters())
    for f in free:
        assert all(p.grad is not None for p in f.parameters())
    after = model.state_dict()
    for k, v in before.items():
        frozen_key = k.startswith(("stem.", "stacks.0.", "stacks.1.", "fusions.0."))
        if "running_mean" in k:
            assert torch.equal(after[k], v) == frozen_key, k
    n_free = sum(p.numel() for f in free for p in f.parameters())
    assert sum(p.numel() for p in trainable_parameters(model)) == n_free
    freeze_stacks(model, 0)
    assert len(trainable_parameters(model)) == len(list(model.parameters()))
    assert all(m.training for m in model.modules())


@pytest.mark.parametrize("head", ["pbn", "deep"])
def test_fusion_specific_runs_and_uses_head_features(head: str) -> None:
    model = build_model(cfg_for(head, fusion="specific"))
    expected = len(MI5_GROUPS) * SMALL.width if head == "pbn" else SMALL.channels
    assert model.fusions[0].features.in_channels == expected
    out = model(torch.randn(2, 3, 64, 64))
    out[-1].mean().backward()
    assert model.fusions[0].features.weight.grad is not None


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"head": "mlp"}, r"unknown head 'mlp'.*'linear', 'deep', 'pbn'"),
        ({"fusion": "concat"}, r"unknown fusion 'concat'.*'shared', 'specific'"),
        ({"stem": "resnet"}, r"unknown stem 'resnet'.*'pbn', 'newell'"),
        ({"head": "pbn"}, "needs groups"),
        ({"head": "pbn", "groups": ((0, 1),)}, "belong to no group"),
        ({"input_size": 100}, "multiple of 64"),
        ({"stack_joints": (16,)}, "one per stack"),
        ({"stack_joints": (8, 8)}, "num_joints"),
        ({"fusion": "specific"}, "fusion 'specific' needs"),
        ({"groups": MI5_GROUPS}, "only used by head 'pbn'"),
    ],
)
def test_bad_configs_raise(change: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_model(replace(SMALL, **change))


def test_forward_rejects_bad_input() -> None:
    model = build_model(replace(SMALL, stacks=1))
    with pytest.raises(ValueError, match="B×3×H×W"):
        model(torch.randn(1, 1, 64, 64))
    with pytest.raises(ValueError, match="divisible by 16"):
        model(torch.randn(1, 3, 72, 72))


def test_config_roundtrips_through_json() -> None:
    cfg = ModelConfig(groups=MI5_GROUPS, stack_joints=(16,) * 8)
    assert ModelConfig(**json.loads(json.dumps(asdict(cfg)))) == cfg


def test_channels_last_matches_contiguous() -> None:
    model = build_model(cfg_for("pbn", groups=MI5_OVERLAP_GROUPS)).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)
        model = model.to(memory_format=torch.channels_last)
        out = model(x.to(memory_format=torch.channels_last))
    for a, b in zip(ref, out):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_compiles_without_graph_breaks() -> None:
    model = build_model(cfg_for("pbn", groups=MI5_OVERLAP_GROUPS)).eval()
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(compiled(x), model(x)):
            torch.testing.assert_close(a, b)
