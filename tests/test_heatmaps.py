"""Tests of lib.heatmaps: targets, decoding, flip and multi-scale testing, worked by hand."""

from __future__ import annotations

import math

import pytest
import torch

from lib.heatmaps import (
    PYRAMID_SCALES,
    decode,
    flip_heatmaps,
    flip_pairs_for,
    flip_test,
    gaussian_targets,
    has_target,
    multiscale_test,
    to_heatmap,
    to_input,
)
from lib.joints import LSP_TO_MPII, MPII_FLIP_PAIRS



def _one(x: float, y: float, size: int = 16, sigma: float = 1.0) -> torch.Tensor:
    return gaussian_targets(torch.tensor([[[x, y]]]), torch.ones(1, 1), size, sigma)[0, 0]


def test_target_peak_value_location_and_std():
    hm = _one(5.0, 9.0)
    assert hm.shape == (16, 16) and hm.dtype == torch.float32
    assert hm[9, 5] == 1.0
    assert torch.nonzero(hm == hm.max()).tolist() == [[9, 5]]
    # std 1 pixel: one pixel away the value is exp(-1/2), two pixels exp(-2), diagonal exp(-1).
    assert hm[9, 6].item() == pytest.approx(math.exp(-0.5), rel=1e-6)
    assert hm[11, 5].item() == pytest.approx(math.exp(-2.0), rel=1e-6)
    assert hm[10, 4].item() == pytest.approx(math.exp(-1.0), rel=1e-6)
    # cut at 3 sigma: 4 pixels away is zero, 3 is not
    assert hm[9, 8] > 0 and hm[9, 9] == 0 and hm[13, 5] == 0


def test_target_sigma_and_subpixel_centre():
    hm = _one(5.5, 7.25, sigma=2.0)
    # the centre of mass is the sub-pixel position (up to the 3-sigma cut, which keeps y = 2..13:
    # 5.25 px above 7.25 and 5.75 below, a bias of 0.006 px)
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    assert (hm * xs).sum() / hm.sum() == pytest.approx(5.5, abs=1e-5)
    assert (hm * ys).sum() / hm.sum() == pytest.approx(7.25, abs=0.01)
    assert hm[1].sum() == 0 and hm[2].sum() > 0 and hm[13].sum() > 0 and hm[14].sum() == 0
    assert hm[7, 5].item() == pytest.approx(math.exp(-(0.25 + 0.0625) / 8), rel=1e-6)


def test_targets_zero_for_weight_zero_outside_and_nan():
    joints = torch.tensor([[[5.0, 5.0], [5.0, 5.0], [-3.0, 5.0], [-3.1, 5.0], [18.0, 5.0], [19.5, 5.0],
                            [float("nan"), 5.0]]])
    weights = torch.tensor([[1, 0, 1, 1, 1, 1, 1]], dtype=torch.bool)
    hm = gaussian_targets(joints, weights, size=16)
    nonzero = (hm.flatten(2).amax(-1) > 0)[0].tolist()
    # margin 3 sigma beyond the pixel centres 0..15: -3 and 18 keep a tail, -3.1 and 19.5 do not
    assert nonzero == [True, False, True, False, True, False, False]
    assert has_target(joints, weights, 16).tolist() == [nonzero]
    assert hm[0, 2, 5, 0].item() == pytest.approx(math.exp(-4.5), rel=1e-6)
    assert torch.isfinite(hm).all()


def test_targets_batched_float_weights_and_bad_shapes():
    joints = torch.rand(3, 4, 2) * 15
    weights = torch.tensor([[1.0, 0.0, 1.0, 1.0]] * 3)
    hm = gaussian_targets(joints, weights, size=16)
    assert hm.shape == (3, 4, 16, 16)
    for b in range(3):
        for j in range(4):
            x, y = joints[b, j].tolist()
            assert torch.equal(hm[b, j], _one(x, y) * weights[b, j])
    with pytest.raises(ValueError, match="B×J×2"):
        gaussian_targets(torch.zeros(3, 4), weights, 16)
    with pytest.raises(ValueError, match="weights must be"):
        gaussian_targets(joints, torch.ones(3, 5), 16)


def test_decode_integer_peaks_exact():
    joints = torch.tensor([[[3.0, 4.0], [0.0, 15.0]], [[15.0, 0.0], [7.0, 7.0]]])
    coords, maxvals = decode(gaussian_targets(joints, torch.ones(2, 2), 16))
    assert torch.equal(coords, joints)
    assert torch.equal(maxvals, torch.ones(2, 2))


def test_decode_quarter_shift_direction():
    hm = torch.zeros(1, 4, 5, 5)
    hm[0, 0, 2, 2], hm[0, 0, 2, 3], hm[0, 0, 1, 2] = 1.0, 0.6, 0.3  # right and up are higher
    hm[0, 1, 2, 2], hm[0, 1, 2, 1], hm[0, 1, 3, 2] = 1.0, 0.6, 0.3  # left and down are higher
    hm[0, 2, 0, 4], hm[0, 2, 0, 3], hm[0, 2, 1, 4] = 1.0, 0.9, 0.9  # corner: no neighbours to compare
    hm[0, 3, 2, 2] = 1.0  # equal neighbours: no shift
    coords, maxvals = decode(hm)
    assert coords[0].tolist() == [[2.25, 1.75], [1.75, 2.25], [4.0, 0.0], [2.0, 2.0]]
    assert maxvals[0].tolist() == [1.0, 1.0, 1.0, 1.0]


def test_decode_subpixel_target_within_quarter_pixel():
    joints = torch.tensor([[[6.3, 8.8], [6.7, 8.2]]])
    coords, _ = decode(gaussian_targets(joints, torch.ones(1, 2), 16))
    assert coords.tolist() == [[[6.25, 8.75], [6.75, 8.25]]]


def test_stride_conversion_round_trip_and_centres():
    xy = torch.tensor([[1.5, 5.5], [0.0, 255.0]])
    assert to_heatmap(xy).tolist() == [[0.0, 1.0], [-0.375, 63.375]]
    assert torch.allclose(to_input(to_heatmap(xy)), xy)


def test_flip_round_trip_and_mirrored_target():
    pairs = [(0, 1)]
    joints = torch.tensor([[[3.25, 4.0], [10.0, 12.5], [7.5, 2.0]]])
    weights = torch.ones(1, 3)
    hm = gaussian_targets(joints, weights, 16)
    assert torch.equal(flip_heatmaps(flip_heatmaps(hm, pairs), pairs), hm)
    mirrored = joints.clone()
    mirrored[..., 0] = 15 - joints[..., 0]  # x -> W - 1 - x, no shift
    mirrored = mirrored[:, [1, 0, 2]]  # left and right swap names
    assert torch.allclose(flip_heatmaps(hm, pairs), gaussian_targets(mirrored, weights, 16), atol=1e-7)


def test_flip_heatmaps_bad_pairs():
    with pytest.raises(ValueError, match="invalid for 3 heatmap channels"):
        flip_heatmaps(torch.zeros(1, 3, 4, 4), [(0, 5)])
    with pytest.raises(ValueError, match="twice"):
        flip_heatmaps(torch.zeros(1, 3, 4, 4), [(0, 1), (1, 2)])


def test_flip_pairs_for_subsets():
    assert flip_pairs_for(range(16)) == list(MPII_FLIP_PAIRS)
    # LSP's 14 joints in LSP order: pairs in LSP positions
    assert flip_pairs_for(LSP_TO_MPII) == [(0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9)]
    # a subset with a lone right ankle (0) and both knees (1, 4): only the knees swap
    assert flip_pairs_for([9, 1, 0, 4]) == [(1, 3)]
    with pytest.raises(ValueError, match="not MPII indices"):
        flip_pairs_for([0, 16])
    with pytest.raises(ValueError, match="twice"):
        flip_pairs_for([0, 0])


def _blob_image(points: list[tuple[float, float]], size: int = 64) -> torch.Tensor:
    """1×3×S×S image with a bright Gaussian blob (std 2 px) at each (x, y) input pixel."""
    ys, xs = _grid(size)
    img = sum(torch.exp(-((xs - x) ** 2 + (ys - y) ** 2) / 8) for x, y in points)
    return img.expand(1, 3, size, size).clone()


def _grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                          indexing="ij")


def _centroids(maps: torch.Tensor) -> torch.Tensor:
    """B×C×2 (x, y) intensity centroids of B×C×H×W maps (a sub-pixel peak finder for Gaussians)."""
    ys, xs = _grid(maps.shape[-1])
    mass = maps.sum((-2, -1))
    return torch.stack([(maps * xs).sum((-2, -1)), (maps * ys).sum((-2, -1))], -1) / mass[..., None]


def _half_centroids(images: torch.Tensor) -> torch.Tensor:
    """Fake pose network: joint 0 is the bright centroid of the image's left half, joint 1 of the right.

    Equivariant by construction under zoom (a centroid moves with the content) and, with the
    channels swapped, under mirroring; renders stride-4 heatmaps with the module's convention.
    """
    size = images.shape[-1]
    _, xs = _grid(size)
    left = (xs < (size - 1) / 2).float()
    halves = images.mean(1, keepdim=True) * torch.stack([left, 1 - left])
    joints = _centroids(halves)
    return gaussian_targets(to_heatmap(joints), torch.ones(joints.shape[:2]), size // 4)


def test_flip_test_symmetric_input_gives_symmetric_output():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 2, 5, stride=4, padding=2)
    img = torch.rand(2, 3, 32, 32)
    img = img + img.flip(-1)
    with torch.no_grad():
        out = flip_test(conv, img, [(0, 1)])
    assert out.shape == (2, 2, 8, 8)
    assert torch.allclose(flip_heatmaps(out, [(0, 1)]), out, atol=1e-6)


def test_flip_test_of_equivariant_net_is_unchanged():
    img = _blob_image([(17.0, 30.0), (44.0, 21.0)])
    plain = _half_centroids(img)
    assert torch.allclose(flip_test(_half_centroids, img, [(0, 1)]), plain, atol=1e-5)
    # a one-pixel shift (HRNet's convention) would break the equality
    shifted = flip_heatmaps(_half_centroids(img.flip(-1)), [(0, 1)]).roll(1, -1)
    assert not torch.allclose(shifted, plain, atol=1e-2)


def test_multiscale_keeps_peak_of_equivariant_net():
    img = _blob_image([(12.0, 20.0), (50.0, 44.0)])  # 4.9 heatmap px left/right of the centre
    ref = _centroids(_half_centroids(img))
    assert torch.allclose(ref, to_heatmap(torch.tensor([[[12.0, 20.0], [50.0, 44.0]]])), atol=0.01)
    # each scale alone puts the peak back in place; a missing or wrong warp back moves it by
    # (s - 1) · 4.9 px, 0.5 to 2 px here
    for s in PYRAMID_SCALES:
        assert torch.allclose(_centroids(multiscale_test(_half_centroids, img, (s,))), ref, atol=0.06), s
    for pairs in (None, [(0, 1)]):
        out = multiscale_test(_half_centroids, img, PYRAMID_SCALES, flip_pairs=pairs)
        assert out.shape == (1, 2, 16, 16) and out.dtype == torch.float32
        assert torch.allclose(_centroids(out), ref, atol=0.04)
        assert torch.equal(decode(out)[0], decode(_half_centroids(img))[0])


def test_multiscale_zoom_direction_and_single_scale_identity():
    img = _blob_image([(20.0, 26.0), (41.0, 37.0)])
    assert torch.equal(multiscale_test(_half_centroids, img, (1.0,)), _half_centroids(img))
    seen: list[torch.Tensor] = []
    multiscale_test(lambda x: seen.append(x) or _half_centroids(x), img, (2.0,))
    # s = 2 shows twice the side: the blob at input (20, 26) moves halfway to the centre 31.5
    assert torch.allclose(_centroids(seen[0].mean(1, keepdim=True) * (_grid(64)[1] < 31.5)),
                          torch.tensor([[[31.5 + (20 - 31.5) / 2, 31.5 + (26 - 31.5) / 2]]]), atol=0.01)
    with pytest.raises(ValueError, match="positive"):
        multiscale_test(_half_centroids, img, (0.0,))
