"""On-device augmentation: pixels and joints warp together, flips relabel, batches are reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lib.data.augment import (KPTRANSFER_AUGMENT, NO_AUGMENT, PBN_AUGMENT, AugmentConfig, DeviceData, eval_inputs,
                              heatmap_to_crop, make_batch)
from lib.data.poseset import PoseSet
from lib.heatmaps import to_input
from lib.joints import LSP_TO_MPII, MPII_JOINTS, NUM_MPII_JOINTS

R_WRIST, L_WRIST = MPII_JOINTS.index("r_wrist"), MPII_JOINTS.index("l_wrist")


def dot_poseset(n: int = 12, r: int = 64, margin: float = 1.25, seed: int = 0) -> PoseSet:
    """Black crops with one bright 3×3 dot at the right wrist (integer position)."""
    rng = np.random.default_rng(seed)
    joints = rng.uniform(0.3 * r, 0.7 * r, (n, NUM_MPII_JOINTS, 2)).astype(np.float32)
    images = np.zeros((n, r, r, 3), np.uint8)
    for i in range(n):
        x, y = np.round(joints[i, R_WRIST]).astype(int)
        joints[i, R_WRIST] = [x, y]
        images[i, y - 1:y + 2, x - 1:x + 2] = 255
    ones = np.ones((n, NUM_MPII_JOINTS), bool)
    return PoseSet(images, joints, ones, ones.copy(), np.full(n, 10, np.float32), tuple(range(NUM_MPII_JOINTS)), "pckh", margin)


def centroid(img: torch.Tensor) -> torch.Tensor:
    """Intensity centroid (x, y) of a ``S×S`` image in integer-centred pixels."""
    s = img.shape[-1]
    yy, xx = torch.meshgrid(torch.arange(s, dtype=torch.float32), torch.arange(s, dtype=torch.float32), indexing="ij")
    return torch.stack([(img * xx).sum(), (img * yy).sum()]) / img.sum()


@pytest.mark.parametrize("aug", [PBN_AUGMENT, KPTRANSFER_AUGMENT, NO_AUGMENT, AugmentConfig(scale=0, rotation=0, shear=0.5, flip=True)])
def test_warped_dot_lands_on_warped_joint(aug):
    ps = dot_poseset()
    data = DeviceData.from_poseset(ps, "cpu")
    batch = make_batch(data, torch.arange(len(ps)), aug, 128, torch.Generator().manual_seed(3))
    wrists = to_input(batch.joints, 4)
    for b in range(len(ps)):
        dot = centroid(batch.inputs[b, 0])
        # after a flip the wrist is relabelled left: the dot is at one of the two wrists
        err = min((wrists[b, R_WRIST] - dot).norm(), (wrists[b, L_WRIST] - dot).norm())
        assert err < 0.1, (b, err)


def test_flip_relabels_left_and_right():
    ps = dot_poseset(n=32)
    data = DeviceData.from_poseset(ps, "cpu")
    aug = AugmentConfig(scale=0, rotation=0, shear=0, flip=True, color=0)
    batch = make_batch(data, torch.arange(32), aug, 128, torch.Generator().manual_seed(0))
    plain = make_batch(data, torch.arange(32), NO_AUGMENT, 128, torch.Generator().manual_seed(0))
    flipped = ~torch.isclose(batch.joints, plain.joints).all(-1).all(-1)
    assert 5 < int(flipped.sum()) < 27  # about half
    width = 128 / 4
    for b in torch.nonzero(flipped).flatten():
        # the flipped image's left wrist is the mirror of the original right wrist
        mirrored_x = width - 1 - plain.joints[b, R_WRIST, 0]
        assert batch.joints[b, L_WRIST, 0] == pytest.approx(float(mirrored_x), abs=1e-4)
        assert batch.joints[b, L_WRIST, 1] == pytest.approx(float(plain.joints[b, R_WRIST, 1]), abs=1e-4)
        assert torch.allclose(batch.inputs[b], plain.inputs[b].flip(-1), atol=1e-5)


def test_deterministic_given_generator_and_targets_consistent():
    ps = dot_poseset(n=16)
    data = DeviceData.from_poseset(ps, "cpu")
    idx = torch.arange(16)
    a = make_batch(data, idx, PBN_AUGMENT, 64, torch.Generator().manual_seed(7))
    b = make_batch(data, idx, PBN_AUGMENT, 64, torch.Generator().manual_seed(7))
    c = make_batch(data, idx, PBN_AUGMENT, 64, torch.Generator().manual_seed(8))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.inputs, c.inputs)
    assert a.inputs.shape == (16, 3, 64, 64) and a.targets.shape == (16, 16, 16, 16)
    assert a.inputs.dtype == torch.float32 and 0 <= a.inputs.min() and a.inputs.max() <= 1
    # each weighted joint's target peaks at its heatmap position
    b_i, j_i = torch.nonzero(a.weights > 0, as_tuple=True)
    peak = a.targets[b_i, j_i].flatten(1).argmax(1)
    px = torch.stack([peak % 16, peak // 16], -1).float()
    assert ((px - a.joints[b_i, j_i]).abs() <= 0.5 + 1e-5).all()


def test_weights_drop_unannotated_and_off_map_joints():
    ps = dot_poseset(n=2)
    ps.annotated[0, 3] = False
    ps.joints[1, 5] = [-500, 30]  # far outside the crop
    data = DeviceData.from_poseset(ps, "cpu")
    batch = make_batch(data, torch.arange(2), NO_AUGMENT, 64, torch.Generator().manual_seed(0))
    assert batch.weights[0, 3] == 0 and batch.weights[1, 5] == 0
    assert batch.targets[0, 3].abs().sum() == 0 and batch.targets[1, 5].abs().sum() == 0
    assert batch.weights.sum() == 2 * 16 - 2


def test_eval_inputs_and_heatmap_to_crop_invert_the_box_map():
    ps = dot_poseset(n=6)
    data = DeviceData.from_poseset(ps, "cpu")
    idx = torch.arange(6)
    batch = make_batch(data, idx, NO_AUGMENT, 128, torch.Generator().manual_seed(0))
    assert torch.allclose(eval_inputs(data, idx, 128), batch.inputs)
    back = heatmap_to_crop(batch.joints, data, 128)
    assert torch.allclose(back, data.joints, atol=1e-4)
    assert torch.allclose(heatmap_to_crop(batch.joints, ps, 128), back)  # PoseSet works too


def test_lsp_joint_ids_flip_pairs():
    ps = dot_poseset(n=1)
    lsp = PoseSet(ps.images, ps.joints[:, :14], ps.annotated[:, :14], ps.visible[:, :14], ps.norm, LSP_TO_MPII, "pck", 1.25)
    perm = DeviceData.from_poseset(lsp, "cpu").flip_perm.tolist()
    assert perm == [5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13]


def test_configs_and_bad_input():
    assert KPTRANSFER_AUGMENT.scale == 0.25 and KPTRANSFER_AUGMENT.rotation == 30 and not KPTRANSFER_AUGMENT.flip
    assert KPTRANSFER_AUGMENT.shear == 0 and KPTRANSFER_AUGMENT.color == 0
    assert (PBN_AUGMENT.scale, PBN_AUGMENT.rotation, PBN_AUGMENT.shear, PBN_AUGMENT.flip) == (0.25, 30, 0.5, True)
    with pytest.raises(ValueError, match="rotation"):
        AugmentConfig(rotation=-1)
    with pytest.raises(ValueError, match="< 1"):
        AugmentConfig(scale=1.0)
    data = DeviceData.from_poseset(dot_poseset(n=2), "cpu")
    with pytest.raises(ValueError, match="multiple of 4"):
        make_batch(data, torch.arange(2), NO_AUGMENT, 30, torch.Generator())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():
    ps = dot_poseset(n=8)
    idx = torch.arange(8)
    cpu = make_batch(DeviceData.from_poseset(ps, "cpu"), idx, PBN_AUGMENT, 128, torch.Generator().manual_seed(1))
    gpu = make_batch(DeviceData.from_poseset(ps, "cuda"), idx, PBN_AUGMENT, 128, torch.Generator().manual_seed(1))
    assert gpu.inputs.is_cuda and gpu.targets.is_cuda
    assert torch.allclose(cpu.joints, gpu.joints.cpu(), atol=1e-3)
    assert torch.allclose(cpu.inputs, gpu.inputs.cpu(), atol=2e-2)
    assert torch.equal(cpu.weights, gpu.weights.cpu())
