"""Drawing primitives of the synthetic benchmark: textures, shapes, a layered canvas.

A scene is painted back to front into a *label image*: every shape gets its own layer id, so
after painting, each pixel knows which shape it shows. Each layer carries a material (a grey
texture and a colour ramp), a brightness gain and an integer tag the caller chooses (the
synthetic benchmark tags body parts, background and occluders). Compositing looks pixels up by
their label, which is what lets the benchmark read joint visibility off the rendering itself.

Textures are windows of a bank of grey patterns (multi-scale value noise, stripes, checks,
dots, wood-like rings) built once per seed and tinted per image, so rendering stays fast (numpy
gathers and PIL's C polygon filler) and deterministic.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

Points = list[tuple[float, float]]


@dataclass(frozen=True)
class TextureBank:
    """Grey patterns to cut textures from, and a noise field for sensor noise.

    Attributes:
        gray: ``K×S×S`` uint8 patterns, S = twice the image resolution so windows can move.
        noise: ``S×S`` int8 Gaussian noise (σ = 32 grey levels), scaled per image.
    """

    gray: np.ndarray
    noise: np.ndarray


def _upsampled_noise(rng: np.random.Generator, size: int, cell: int) -> np.ndarray:
    """Smooth value noise with features about ``cell`` px wide (bicubic upsampling of a grid)."""
    n = max(2, size // cell + 2)
    small = Image.fromarray(rng.random((n, n), dtype=np.float32), mode="F")
    return np.asarray(small.resize((size, size), Image.Resampling.BICUBIC), dtype=np.float32)


def _pattern(rng: np.random.Generator, size: int, kind: str) -> np.ndarray:
    """One grey ``size²`` pattern of ``kind`` in [0, 1]."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    theta = rng.uniform(0, np.pi)
    period = rng.uniform(3, 24) * size / 256
    along = x * np.cos(theta) + y * np.sin(theta)
    if kind == "noise":
        cells = rng.choice([2, 4, 8, 16, 32, 64], size=rng.integers(1, 4), replace=False)
        g = sum(_upsampled_noise(rng, size, max(1, int(c * size / 256))) / np.sqrt(c) for c in cells)
    elif kind == "stripes":
        g = np.sin(2 * np.pi * along / period)
        g = (g > rng.uniform(-0.5, 0.5)).astype(np.float32) if rng.random() < 0.5 else g
    elif kind == "checks":
        across = -x * np.sin(theta) + y * np.cos(theta)
        g = np.sin(2 * np.pi * along / period) * np.sin(2 * np.pi * across / period * rng.uniform(0.5, 2))
        g = (g > 0).astype(np.float32) if rng.random() < 0.6 else g
    elif kind == "dots":
        across = -x * np.sin(theta) + y * np.cos(theta)
        g = (np.sin(2 * np.pi * along / period) + np.sin(2 * np.pi * across / period) > rng.uniform(0.8, 1.6))
        g = g.astype(np.float32)
    elif kind == "wood":
        warp = _upsampled_noise(rng, size, max(2, size // 8)) * rng.uniform(5, 20)
        g = np.sin(2 * np.pi * along / period + warp)
    else:
        raise ValueError(f"unknown texture kind {kind!r}")
    g = g + _upsampled_noise(rng, size, max(1, size // 64)) * rng.uniform(0, 0.5) * (g.max() - g.min() + 1e-6)
    return (g - g.min()) / (g.max() - g.min() + 1e-6)


TEXTURE_KINDS: tuple[str, ...] = ("noise", "noise", "noise", "stripes", "checks", "dots", "wood")


def make_texture_bank(rng: np.random.Generator, resolution: int, count: int = 40) -> TextureBank:
    """``count`` grey patterns of side ``2 × resolution`` and one noise field."""
    size = 2 * resolution
    kinds = [TEXTURE_KINDS[i % len(TEXTURE_KINDS)] for i in range(count)]
    gray = np.stack([(_pattern(rng, size, k) * 255).astype(np.uint8) for k in kinds])
    noise = np.clip(rng.normal(0, 32, (size, size)), -127, 127).astype(np.int8)
    return TextureBank(gray=gray, noise=noise)


def window(bank: TextureBank, rng: np.random.Generator, resolution: int) -> np.ndarray:
    """A random ``resolution²`` grey window of a random bank pattern, randomly flipped/turned."""
    k = int(rng.integers(len(bank.gray)))
    x0, y0 = rng.integers(0, bank.gray.shape[1] - resolution + 1, 2)
    g = bank.gray[k, y0:y0 + resolution, x0:x0 + resolution]
    flip = int(rng.integers(8))
    if flip & 1:
        g = g[::-1]
    if flip & 2:
        g = g[:, ::-1]
    return g.T if flip & 4 else g


_RAMP = np.linspace(0.0, 1.0, 256, dtype=np.float32)[:, None]


def colour_ramp(dark: np.ndarray, light: np.ndarray) -> np.ndarray:
    """``256×3`` uint8 lookup table tinting grey 0 → ``dark`` and 255 → ``light`` (RGB 0..255)."""
    lut = dark + (light - dark) * _RAMP
    return np.clip(lut, 0, 255, out=lut).astype(np.uint8)


def hsv(h: float, s: float, v: float) -> np.ndarray:
    """RGB (0..255 float) of hue ``h`` (0..1, wraps), saturation and value in 0..1."""
    return np.array(colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))) * 255


_ARC = [(float(np.cos(t)), float(np.sin(t))) for t in np.linspace(-np.pi / 2, np.pi / 2, 5)]
_CIRCLE = [(float(np.cos(t)), float(np.sin(t))) for t in np.linspace(0, 2 * np.pi, 20, endpoint=False)]

# The shapes below are plain Python: for a dozen points, numpy's per-call overhead dominates.


def capsule(a: np.ndarray, b: np.ndarray, ra: float, rb: float) -> Points:
    """Polygon of a tapered capsule from ``a`` (radius ``ra``) to ``b`` (radius ``rb``): a limb."""
    ax, ay, bx, by = float(a[0]), float(a[1]), float(b[0]), float(b[1])
    dx, dy = bx - ax, by - ay
    n = math.hypot(dx, dy)
    c, s = (dx / n, dy / n) if n > 1e-6 else (1.0, 0.0)
    end_b = [(bx + rb * (c * u - s * v), by + rb * (s * u + c * v)) for u, v in _ARC]
    end_a = [(ax - ra * (c * u - s * v), ay - ra * (s * u + c * v)) for u, v in _ARC]
    return end_b + end_a


def ellipse(center: np.ndarray, angle: float, half_major: float, half_minor: float) -> Points:
    """Polygon of an ellipse rotated by ``angle`` radians (major axis along the angle)."""
    c, s = math.cos(angle), math.sin(angle)
    x, y = float(center[0]), float(center[1])
    return [(x + c * half_major * u - s * half_minor * v, y + s * half_major * u + c * half_minor * v) for u, v in _CIRCLE]


def rectangle(center: np.ndarray, angle: float, half_w: float, half_h: float) -> Points:
    """Polygon of a rectangle rotated by ``angle`` radians."""
    c, s = math.cos(angle), math.sin(angle)
    x, y = float(center[0]), float(center[1])
    corners = ((-half_w, -half_h), (half_w, -half_h), (half_w, half_h), (-half_w, half_h))
    return [(x + c * u - s * v, y + s * u + c * v) for u, v in corners]


def blob(rng: np.random.Generator, center: np.ndarray, radius: float, corners: int = 9) -> Points:
    """A random star-shaped polygon (rocks, bushes, bags): radii jittered around ``radius``."""
    ang = np.sort(rng.uniform(0, 2 * np.pi, corners))
    r = radius * rng.uniform(0.55, 1.0, corners)
    return list(zip((center[0] + r * np.cos(ang)).tolist(), (center[1] + r * np.sin(ang)).tolist()))


@dataclass
class LayeredCanvas:
    """A label image painted back to front, one layer per shape, and the layers' materials.

    A material is a grey ``R×R`` texture and a ``256×3`` colour ramp (:func:`colour_ramp`);
    compositing looks each pixel's grey value up in its layer's texture and ramp, so a
    material costs nothing until composited. Layer 0 is the background (material 0, tag
    ``background_tag``). At most 255 layers (uint8 labels).
    """

    resolution: int
    background_tag: int = -1
    grays: list[np.ndarray] = field(default_factory=list)
    ramps: list[np.ndarray] = field(default_factory=list)
    layer_material: list[int] = field(default_factory=list)
    layer_gain: list[float] = field(default_factory=list)
    layer_tag: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        r = self.resolution
        self._labels = Image.new("L", (r, r), 0)
        self._draw = ImageDraw.Draw(self._labels)
        self.grays, self.ramps = [np.zeros((r, r), dtype=np.uint8)], [np.zeros((256, 3), dtype=np.uint8)]
        self.layer_material, self.layer_gain, self.layer_tag = [0], [1.0], [self.background_tag]

    def add_material(self, gray: np.ndarray, ramp: np.ndarray) -> int:
        """Register a material (``R×R`` uint8 grey texture, ``256×3`` uint8 ramp); returns its index."""
        if gray.shape != (self.resolution, self.resolution) or gray.dtype != np.uint8:
            raise ValueError(f"material texture must be {self.resolution}×{self.resolution} uint8, got {gray.shape} {gray.dtype}")
        if ramp.shape != (256, 3) or ramp.dtype != np.uint8:
            raise ValueError(f"colour ramp must be 256×3 uint8, got {ramp.shape} {ramp.dtype}")
        self.grays.append(gray)
        self.ramps.append(ramp)
        return len(self.grays) - 1

    def set_background(self, material: int) -> None:
        """Make layer 0 (everything not painted over) show ``material``."""
        self._check(material)
        self.layer_material[0] = material

    def paint(self, polygons: Sequence[Points], material: int, tag: int, gain: float = 1.0) -> int:
        """Paint ``polygons`` (one shape) over everything so far as a new layer; returns its id."""
        layer = len(self.layer_tag)
        if layer > 255:
            raise ValueError("more than 255 layers on one canvas; draw fewer shapes per image")
        self._check(material)
        for poly in polygons:
            # PIL fills float polygons in edge coordinates (pixel i spans [i, i + 1)); shift
            # by half a pixel so that shapes sit where their integer-centred coordinates say.
            self._draw.polygon([(x + 0.5, y + 0.5) for x, y in poly], fill=layer)
        self.layer_material.append(material)
        self.layer_gain.append(float(gain))
        self.layer_tag.append(int(tag))
        return layer

    def _check(self, material: int) -> None:
        if not 0 <= material < len(self.grays):
            raise ValueError(f"material {material} not registered (have {len(self.grays)})")

    def labels(self) -> np.ndarray:
        """``R×R`` uint8: the layer each pixel shows."""
        return np.asarray(self._labels, dtype=np.uint8)

    def composite(self, labels: np.ndarray, shading: np.ndarray | None = None, edge_gain: float = 1.0) -> np.ndarray:
        """``R×R×3`` float32 image (0..255): each pixel's material × layer gain × ``shading``.

        ``edge_gain`` < 1 darkens one-pixel outlines where the layer changes, the contour
        shading real photos have at occluding boundaries (so overlapping limbs of the same
        colour still show an edge).
        """
        r = self.resolution
        flat = labels.reshape(-1)
        mat = np.asarray(self.layer_material)[flat]
        gray = np.stack(self.grays).reshape(-1).take(mat * (r * r) + np.arange(r * r))
        # Ramps as one uint32 per entry (RGB + padding): one gather instead of three.
        ramps = np.concatenate([np.stack(self.ramps), np.zeros((len(self.ramps), 256, 1), np.uint8)], axis=2)
        rgb = ramps.view(np.uint32).reshape(-1).take(mat * 256 + gray).view(np.uint8).reshape(r, r, 4)[..., :3]
        gain = np.asarray(self.layer_gain, dtype=np.float32)[labels]
        if edge_gain != 1.0:
            edge = np.zeros((r, r), dtype=bool)
            edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
            edge[1:, :] |= labels[1:, :] != labels[:-1, :]
            gain[edge] *= edge_gain
        if shading is not None:
            gain *= shading
        return rgb * gain[..., None]


def degrade(image: np.ndarray, rng: np.random.Generator, bank: TextureBank, blur: float, noise: float) -> np.ndarray:
    """Camera effects on a float image: blur of σ ``blur`` px (at most 1; a 3-tap kernel
    [w, 1−2w, w] per axis, whose variance 2w is σ²), then sensor noise of σ ``noise`` grey
    levels; returns uint8."""
    out = image
    w = min(max(blur, 0.0), 1.0) ** 2 / 2
    if w > 1e-3:
        out = out * (1 - 2 * w)
        out[1:] += w * image[:-1]
        out[:-1] += w * image[1:]
        out[0] += w * image[0]
        out[-1] += w * image[-1]
        tmp = out.copy()
        out *= 1 - 2 * w
        out[:, 1:] += w * tmp[:, :-1]
        out[:, :-1] += w * tmp[:, 1:]
        out[:, 0] += w * tmp[:, 0]
        out[:, -1] += w * tmp[:, -1]
    if noise > 0:
        r = image.shape[0]
        x0, y0 = rng.integers(0, bank.noise.shape[0] - r + 1, 2)
        out = out + bank.noise[y0:y0 + r, x0:x0 + r, None] * np.float32(noise / 32)
    return np.clip(out, 0, 255).astype(np.uint8)


def disc_offsets(radius: float) -> np.ndarray:
    """``K×2`` integer (dx, dy) offsets of the pixels within ``radius`` of a pixel centre."""
    r = int(np.floor(radius))
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    keep = dx**2 + dy**2 <= radius**2
    return np.stack([dx[keep], dy[keep]], axis=1)


def sample_labels(labels: np.ndarray, points: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels around ``points`` (``J×2`` xy): ``(J×K labels, J×K inside-the-image mask)``.

    Pixels outside the image read as label 0 with ``inside`` False.
    """
    r = labels.shape[0]
    xy = np.rint(points).astype(np.int64)[:, None, :] + offsets[None]
    inside = (xy >= 0).all(-1) & (xy < r).all(-1)
    xy = np.clip(xy, 0, r - 1)
    return np.where(inside, labels[xy[..., 1], xy[..., 0]], 0), inside
