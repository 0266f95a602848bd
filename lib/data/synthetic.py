"""The embedded synthetic benchmark: rendered people with known joints, visibility and occlusion.

The project's default dataset needs no download. Each image shows one centred person drawn
from a 2D pose (the kinematic generator of :mod:`lib.data.kinematics`, or the poses of an
annotation file such as all 25,204 MPII people) as textured limbs, torso and head painted in
depth order, on a cluttered background, with occluding objects and partial distractor people.
It reproduces the conditions the studies are about (PBN Sec. 1 and Fig. 7): self-occlusion
(limbs hidden by the person's own body) and other-occlusion (objects and other people), clutter,
and left/right ambiguity (left and right limbs share their clothes, so colour does not tell them
apart). Visibility is read off the rendering itself: a joint is visible unless most of a small
disc around it shows something painted over its own body part (:func:`joint_visibility`).

Every image ``i`` uses its own random stream seeded by ``(seed, i)``, and textures come from a
bank seeded by ``seed`` alone, so a config renders bit-identical data, and image ``i`` is the
same whatever ``num`` is (subsets and parallel rendering agree).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lib.data import render
from lib.data.kinematics import (HEIGHT_IN_BOX, LEFT_JOINTS, RIGHT_JOINTS, SEGMENTS, Pose, depth_from_2d,
                                 sample_pose)
from lib.data.poseset import PoseSet
from lib.joints import MPII_JOINTS, NUM_MPII_JOINTS, idx

#: Bump when the rendering changes: it is recorded in ``PoseSet.meta``.
GENERATOR_VERSION = "synthetic-1"

#: Body parts drawn for a person; a part's index is its tag on the canvas.
PARTS: tuple[str, ...] = (
    "head", "hair", "neck", "torso",
    "r_upper_arm", "r_forearm", "r_hand", "l_upper_arm", "l_forearm", "l_hand",
    "r_thigh", "r_shank", "r_foot", "l_thigh", "l_shank", "l_foot",
)
NUM_PARTS = len(PARTS)
_P = {name: i for i, name in enumerate(PARTS)}

#: Limb capsules: part -> (joint a, joint b, radius at a, radius at b), radii as fractions of
#: standing height, an adult's proportions (a thigh is 10% of the height wide at the hip).
LIMBS: dict[str, tuple[int, int, float, float]] = {
    "r_upper_arm": (*idx("r_shoulder", "r_elbow"), 0.032, 0.026),
    "r_forearm": (*idx("r_elbow", "r_wrist"), 0.026, 0.020),
    "l_upper_arm": (*idx("l_shoulder", "l_elbow"), 0.032, 0.026),
    "l_forearm": (*idx("l_elbow", "l_wrist"), 0.026, 0.020),
    "r_thigh": (*idx("r_hip", "r_knee"), 0.050, 0.034),
    "r_shank": (*idx("r_knee", "r_ankle"), 0.034, 0.024),
    "l_thigh": (*idx("l_hip", "l_knee"), 0.050, 0.034),
    "l_shank": (*idx("l_knee", "l_ankle"), 0.034, 0.024),
    "neck": (*idx("thorax", "upper_neck"), 0.030, 0.028),
}

#: The parts each joint belongs to: the joint is visible when these show at its position.
#: Shoulders and hips belong to the torso as well as to their limb, thorax to torso and neck,
#: the pelvis (between the hips) to the torso and both thighs.
OWN_PARTS: dict[str, tuple[str, ...]] = {
    "r_ankle": ("r_shank", "r_foot"), "r_knee": ("r_thigh", "r_shank"), "r_hip": ("r_thigh", "torso"),
    "l_hip": ("l_thigh", "torso"), "l_knee": ("l_thigh", "l_shank"), "l_ankle": ("l_shank", "l_foot"),
    "pelvis": ("torso", "r_thigh", "l_thigh"), "thorax": ("torso", "neck"), "upper_neck": ("neck", "head", "hair"),
    "head_top": ("head", "hair"), "r_wrist": ("r_forearm", "r_hand"), "r_elbow": ("r_upper_arm", "r_forearm"),
    "r_shoulder": ("r_upper_arm", "torso"), "l_shoulder": ("l_upper_arm", "torso"),
    "l_elbow": ("l_upper_arm", "l_forearm"), "l_wrist": ("l_forearm", "l_hand"),
}

#: Canvas tags besides body parts (0..NUM_PARTS-1) and joint caps (NUM_PARTS + joint): things
#: behind the person, and things in front of it (occluders, a distractor in front).
TAG_BACKGROUND, TAG_OCCLUDER = -1, -2



def _own_matrix() -> np.ndarray:
    own = np.zeros((NUM_MPII_JOINTS, NUM_PARTS + NUM_MPII_JOINTS), dtype=bool)
    for j, name in enumerate(MPII_JOINTS):
        own[j, [_P[p] for p in OWN_PARTS[name]]] = True
        own[j, NUM_PARTS + j] = True
    return own


#: ``OWN[j, t]``: tag ``t`` (a part, or joint cap ``NUM_PARTS + j``) is joint ``j``'s own part.
OWN = _own_matrix()

#: Visibility disc radius as a fraction of the person box (2.6 px at 128 px, margin 1.25).
VISIBILITY_RADIUS = 0.025

#: PCKh head size = 0.6 × head-box diagonal (the official MPII evaluation).
HEAD_BOX_FACTOR = 0.6

#: Head ellipse width / height: MPII's head boxes hold the head segment on their diagonal
#: (0.6 × diagonal = 0.75 × segment, see ``lib.data.mpii``); an upright ellipse of this aspect
#: has exactly that box, and the box of a tilted one has the same diagonal.
HEAD_ASPECT = 0.75

_HEAD_TOP, _UPPER_NECK, _THORAX, _PELVIS = idx("head_top", "upper_neck", "thorax", "pelvis")
_SHOULDERS, _HIPS = idx("r_shoulder", "l_shoulder"), idx("r_hip", "l_hip")
_LOWER = idx("r_knee", "l_knee", "r_ankle", "l_ankle")


@dataclass(frozen=True)
class SyntheticConfig:
    """What to render; equal configs render bit-identical PoseSets.

    Attributes:
        num: number of images.
        resolution: crop side R in pixels.
        margin: crop side / person-box side (the box spans R / margin px in the middle).
        seed: random seed; image ``i`` is seeded by ``(seed, i)``.
        poses: ``"generator"`` (the kinematic generator), ``"mpii"`` (all people of
            ``$POSE_DATA/mpii/mpii_annotations.json.gz``), or a path to an MPII-layout json(.gz)
            or a saved PoseSet ``.npz``. File poses are used in a seeded random order, cycling
            when ``num`` exceeds them (``num`` = their count renders each once).
        pose_split: for MPII files, which people: ``"all"``, ``"train"`` or ``"val"``.
        occluders: mean number of occluding objects per image (Poisson).
        distractors: probability of a partial second person, in front of or behind the first.
        clutter: background clutter density (0: a plain textured background).
        degradation: strength of blur and sensor noise (0: none).
    """

    num: int = 2000
    resolution: int = 128
    margin: float = 1.25
    seed: int = 0
    poses: str = "generator"
    pose_split: str = "all"
    occluders: float = 0.8
    distractors: float = 0.5
    clutter: float = 1.0
    degradation: float = 1.0

    def __post_init__(self) -> None:
        if self.num < 1:
            raise ValueError(f"SyntheticConfig.num must be at least 1, got {self.num}")
        if self.resolution < 32:
            raise ValueError(f"SyntheticConfig.resolution must be at least 32 px, got {self.resolution}")
        if not self.margin >= 1.0:
            raise ValueError(f"SyntheticConfig.margin must be >= 1 (crop side / person box), got {self.margin}")
        if not self.poses:
            raise ValueError("SyntheticConfig.poses is empty; use 'generator', 'mpii' or a file path")
        if self.pose_split not in ("all", "train", "val"):
            raise ValueError(f"SyntheticConfig.pose_split must be 'all', 'train' or 'val', got {self.pose_split!r}")
        for name in ("occluders", "clutter", "degradation"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"SyntheticConfig.{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.distractors <= 1:
            raise ValueError(f"SyntheticConfig.distractors is a probability in [0, 1], got {self.distractors}")


# --------------------------------------------------------------------------- pose sources


@dataclass(frozen=True)
class PosePool:
    """2D poses read from a file, in person-box units (box centre at 0, side 1).

    Attributes:
        joints: ``N×16×2`` float, (0, 0) where not annotated.
        annotated: ``N×16`` bool.
        visible: ``N×16`` bool, the file's visibility flags (a guide for where to occlude).
        source: the file read.
    """

    joints: np.ndarray
    annotated: np.ndarray
    visible: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.joints)


def load_pose_pool(poses: str, split: str = "all", data_root: str | Path | None = None) -> PosePool:
    """The poses named by ``poses`` (``"mpii"`` or a file path; see :class:`SyntheticConfig`).

    MPII people are placed in their person box as the real crops are (``lib.data.pack``: centre
    ``objpos + (0, 15·scale)``, side ``1.25 × 200·scale``); a PoseSet's people in theirs.
    """
    from lib.data import mpii, pack, paths

    if poses == "mpii":
        path = paths.require_file(paths.data_root(data_root) / "mpii" / "mpii_annotations.json.gz", "MPII annotations")
    else:
        path = Path(poses).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"pose file {path} not found; poses must be 'generator', 'mpii' or an existing file")
    if path.suffix == ".npz":
        if split != "all":
            raise ValueError(f"pose_split={split!r} applies to MPII annotation files only; use 'all' for {path}")
        return _pool_from_poseset(PoseSet.load(path), str(path))
    ann = mpii.read_mpii(path)
    if split != "all":
        ann = ann.split(split)
    center = ann.center + np.stack([np.zeros_like(ann.scale), pack.MPII_CENTER_SHIFT * ann.scale], 1)
    side = pack.MPII_PX_PER_SCALE * pack.MPII_BOX_FACTOR * ann.scale
    joints = (ann.joints - center[:, None]) / side[:, None, None]
    joints = np.where(ann.annotated[..., None], joints, 0.0)
    return PosePool(joints=joints, annotated=ann.annotated.copy(), visible=ann.visible & ann.annotated, source=str(path))


def _pool_from_poseset(ps: PoseSet, source: str) -> PosePool:
    """A PoseSet's poses in box units, as MPII's 16 joints; pelvis and thorax, where the set
    lacks them (LSP), are the midpoints of the hips and shoulders."""
    n, box, c = len(ps), ps.resolution / ps.margin, (ps.resolution - 1) / 2
    joints = np.zeros((n, NUM_MPII_JOINTS, 2))
    annotated = np.zeros((n, NUM_MPII_JOINTS), dtype=bool)
    visible = np.zeros_like(annotated)
    ids = list(ps.joint_ids)
    joints[:, ids] = (ps.joints - c) / box
    annotated[:, ids], visible[:, ids] = ps.annotated, ps.visible
    for mid, (a, b) in ((_PELVIS, _HIPS), (_THORAX, _SHOULDERS)):
        if mid not in ids:
            annotated[:, mid] = annotated[:, a] & annotated[:, b]
            visible[:, mid] = visible[:, a] & visible[:, b]
            joints[:, mid] = (joints[:, a] + joints[:, b]) / 2
    joints = np.where(annotated[..., None], joints, 0.0)
    return PosePool(joints=joints, annotated=annotated, visible=visible & annotated, source=source)


def _pool_pose(pool: PosePool, k: int, rng: np.random.Generator) -> Pose:
    """Pose ``k`` of a pool with a depth from its facing; its far side is the side the file
    marks more joints invisible on. Joints the file marks invisible are sometimes pushed far
    behind the body so that the rendering hides them too."""
    joints, ann, vis = pool.joints[k], pool.annotated[k], pool.visible[k]
    hidden = ann & ~vis
    left, right = hidden[list(LEFT_JOINTS)].sum(), hidden[list(RIGHT_JOINTS)].sum()
    depth, forward = depth_from_2d(joints, ann, rng, far_side=1 if left > right else -1 if right > left else None)
    height = HEIGHT_IN_BOX
    depth = depth + np.where(hidden & (rng.random(NUM_MPII_JOINTS) < 0.4), 0.5 * SEGMENTS["trunk"] * height, 0.0)
    head = np.linalg.norm(joints[_HEAD_TOP] - joints[_UPPER_NECK]) if ann[_HEAD_TOP] and ann[_UPPER_NECK] else 0.0
    return Pose(joints=joints, depth=depth, annotated=ann.copy(), forward=forward, height=height,
                head_length=float(head) or SEGMENTS["head"] * height, source_visible=vis.copy())


# --------------------------------------------------------------------------- a person


@dataclass(frozen=True)
class _Shape:
    part: int
    depth: float
    polygons: list[render.Points]
    material: str


def body_shapes(pose: Pose) -> tuple[list[_Shape], tuple[float, float] | None]:
    """The shapes of one person (a pose in crop pixels), and its head ellipse's semi-axes
    (None without head top or upper neck).

    A limb needs both its joints annotated; the torso is drawn from whichever of shoulders,
    hips, thorax and pelvis exist, completing the missing ones for drawing only. A part's
    depth is its joints' mean depth; the torso sits a little behind its joints (limbs beside
    it are drawn over its edge), the neck just in front of the torso and the head in front
    of the neck, whatever the view. The caller sorts the shapes by depth.
    """
    joints, ann, depth, h = pose.joints, pose.annotated, pose.depth, pose.height
    shapes: list[_Shape] = []
    cloth = {"upper_arm": "top", "forearm": "sleeve", "thigh": "bottom", "shank": "leg"}
    for name, (a, b, ra, rb) in LIMBS.items():
        if ann[a] and ann[b] and name != "neck":
            shapes.append(_Shape(_P[name], (depth[a] + depth[b]) / 2, [render.capsule(joints[a], joints[b], ra * h, rb * h)],
                                 cloth[name.split("_", 1)[1]]))
    for side, (elb, wri, ank, kne) in (("r", idx("r_elbow", "r_wrist", "r_ankle", "r_knee")),
                                       ("l", idx("l_elbow", "l_wrist", "l_ankle", "l_knee"))):
        if ann[wri]:
            d = _unit(joints[wri] - joints[elb] if ann[elb] else np.array([0.0, 1.0]))
            hand = render.ellipse(joints[wri] + 0.035 * h * d, np.arctan2(d[1], d[0]), 0.045 * h, 0.024 * h)
            shapes.append(_Shape(_P[f"{side}_hand"], depth[wri] - 0.005 * h, [hand], "skin"))
        if ann[ank]:
            down = _unit(joints[ank] - joints[kne] if ann[kne] else np.array([0.0, 1.0]))
            toe = joints[ank] + 0.1 * h * pose.forward + 0.02 * h * down
            foot = render.capsule(joints[ank], toe, 0.024 * h, 0.018 * h)
            shapes.append(_Shape(_P[f"{side}_foot"], depth[ank], [foot], "shoe"))
    front = np.inf  # depth the neck and head must come in front of
    torso = _torso_polygons(joints, ann, h)
    if torso:
        known = [j for j in (*_SHOULDERS, *_HIPS, _THORAX, _PELVIS) if ann[j]]
        front = float(np.mean(depth[known])) + 0.03 * h
        shapes.append(_Shape(_P["torso"], front, torso, "top"))
    a, b, ra, rb = LIMBS["neck"]
    if ann[a] and ann[b]:
        front = min((depth[a] + depth[b]) / 2, front - 0.01 * h)
        shapes.append(_Shape(_P["neck"], front, [render.capsule(joints[a], joints[b], ra * h, rb * h)], "skin"))
    head_axes = None
    if ann[_HEAD_TOP] and ann[_UPPER_NECK]:
        top, neck = joints[_HEAD_TOP], joints[_UPPER_NECK]
        u = _unit(top - neck)
        length = max(float(np.hypot(*(top - neck))), 0.85 * pose.head_length)  # round even when foreshortened
        ang, centre = np.arctan2(u[1], u[0]), (top + neck) / 2
        head_axes = (length / 2, HEAD_ASPECT * length / 2)
        head_poly = render.ellipse(centre, ang, *head_axes)
        d = min((depth[_HEAD_TOP] + depth[_UPPER_NECK]) / 2 - 0.02 * h, front - 0.01 * h)
        shapes.append(_Shape(_P["head"], d, [head_poly], "skin"))
        hair = render.ellipse(centre + 0.2 * length * u, ang, 0.33 * length, 0.4 * length)
        shapes.append(_Shape(_P["hair"], d - 1e-6, [hair], "hair"))
    return shapes, head_axes


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.hypot(v[0], v[1])), 1e-6)


def _torso_polygons(joints: np.ndarray, ann: np.ndarray, h: float) -> list[render.Points]:
    """Torso as a quad through (slightly inset) shoulders and (slightly outset) hips, plus a
    thick thorax-pelvis capsule so that a person seen in profile still has a body."""
    sho = [joints[j] if ann[j] else None for j in _SHOULDERS]
    hip = [joints[j] if ann[j] else None for j in _HIPS]
    top = joints[_THORAX] if ann[_THORAX] else (sho[0] + sho[1]) / 2 if all(s is not None for s in sho) else None
    bottom = joints[_PELVIS] if ann[_PELVIS] else (hip[0] + hip[1]) / 2 if all(p is not None for p in hip) else None
    trunk = SEGMENTS["trunk"] * h
    if top is None and bottom is None:
        return []
    if top is None:
        top = bottom + np.array([0.0, -trunk])
    if bottom is None:
        bottom = top + np.array([0.0, trunk])
    down = bottom - top
    across = np.array([-down[1], down[0]]) / max(np.hypot(*down), 1e-6)  # towards the person's left, facing us
    for k, sign in ((0, -1.0), (1, 1.0)):
        if sho[k] is None:
            sho[k] = top + sign * SEGMENTS["shoulder"] * h * across
        if hip[k] is None:
            hip[k] = sho[k] + down
    inset = [s + 0.015 * h * (top - s) / max(np.hypot(*(top - s)), 1e-6) for s in sho]
    outset = [p + 0.02 * h * (p - bottom) / max(np.hypot(*(p - bottom)), 1e-6) for p in hip]
    quad = [tuple(inset[0]), tuple(inset[1]), tuple(outset[1]), tuple(outset[0])]
    unit = down / max(np.hypot(*down), 1e-6)
    return [quad, render.capsule(top + 0.065 * h * unit, bottom, 0.065 * h, 0.06 * h)]


def _material(canvas: render.LayeredCanvas, bank: render.TextureBank, rng: np.random.Generator,
              dark: np.ndarray, light: np.ndarray) -> int:
    """A random bank texture tinted from ``dark`` to ``light``, registered on ``canvas``."""
    return canvas.add_material(render.window(bank, rng, canvas.resolution), render.colour_ramp(dark, light))


def _random_material(canvas: render.LayeredCanvas, bank: render.TextureBank, rng: np.random.Generator,
                     saturation: float) -> int:
    """A texture between two random colours, one darker, one lighter (walls, objects, clutter)."""
    return _material(canvas, bank, rng, render.hsv(rng.random(), rng.uniform(0, saturation), rng.uniform(0, 0.5)),
                     render.hsv(rng.random(), rng.uniform(0, saturation), rng.uniform(0.4, 1)))


def _person_materials(canvas: render.LayeredCanvas, bank: render.TextureBank, rng: np.random.Generator) -> dict[str, int]:
    """Clothes and skin of one person; left and right limbs share them (no colour tells sides)."""
    def material(colour: np.ndarray, contrast: float) -> int:
        return _material(canvas, bank, rng, colour * (1 - contrast), colour * (1 + contrast))

    skin = material(render.hsv(rng.uniform(0.02, 0.1), rng.uniform(0.2, 0.6), rng.uniform(0.35, 0.95)), 0.1)
    top = material(render.hsv(rng.random(), rng.uniform(0, 1), rng.uniform(0.2, 1)), rng.uniform(0.05, 0.6))
    bottom = material(render.hsv(rng.random(), rng.uniform(0, 0.8), rng.uniform(0.1, 0.8)), rng.uniform(0.05, 0.4))
    dark = material(render.hsv(rng.uniform(0.0, 0.15), rng.uniform(0, 0.6), rng.uniform(0.05, 0.45)), 0.2)
    return {"skin": skin, "top": top, "bottom": bottom, "shoe": dark, "hair": dark,
            "sleeve": top if rng.random() < 0.5 else skin, "leg": skin if rng.random() < 0.25 else bottom}


def paint_person(canvas: render.LayeredCanvas, shapes: list[_Shape], mats: dict[str, int],
                 rng: np.random.Generator, tag: int | None) -> dict[int, int]:
    """Paint ``shapes`` far to near; returns each part's first layer. ``tag`` None tags layers
    by part (the target person), else every layer gets ``tag`` (a distractor)."""
    first: dict[int, int] = {}
    for s in sorted(shapes, key=lambda s: -s.depth):
        layer = canvas.paint(s.polygons, mats[s.material], s.part if tag is None else tag, rng.uniform(0.82, 1.12))
        first.setdefault(s.part, layer)
    return first


def paint_target(canvas: render.LayeredCanvas, pose: Pose, mats: dict[str, int],
                 rng: np.random.Generator) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Paint the person whose joints are labelled (a pose in crop pixels), tagged by part.

    An annotated joint none of whose parts could be drawn (its neighbours are missing) gets a
    small disc of skin of its own, so that no labelled joint floats over the background.
    Returns ``(first_own, head)``: per joint the first layer painted of its own parts (the
    input of :func:`joint_visibility`), and the head ellipse's semi-axes (or None).
    """
    shapes, head = body_shapes(pose)
    first = paint_person(canvas, shapes, mats, rng, None)
    for j in np.flatnonzero(pose.annotated):
        if not OWN[j][list(first)].any():
            cap = render.ellipse(pose.joints[j], 0.0, 0.03 * pose.height, 0.03 * pose.height)
            first[NUM_PARTS + j] = canvas.paint([cap], mats["skin"], NUM_PARTS + j)
    first_own = np.array([min((first[t] for t in np.flatnonzero(OWN[j]) if t in first), default=0)
                          for j in range(NUM_MPII_JOINTS)])
    return first_own, head


# --------------------------------------------------------------------------- visibility


def joint_visibility(labels: np.ndarray, layer_tags: np.ndarray, first_own: np.ndarray, points: np.ndarray,
                     annotated: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Visibility and occlusion type of each joint, read from the painted label image.

    A pixel near joint ``j`` *hides* it when it shows a layer painted after ``j``'s first own
    part (``first_own[j]``) that is either another part of the same person (self-occlusion,
    type 1) or an occluder / a distractor in front (other-occlusion, type 2); pixels outside
    the image hide it too (type 2, truncation). The joint is visible unless hiding pixels make
    up at least half of the disc of ``radius`` px around it; the type is the larger share.

    Returns ``(visible J bool, occlusion J int8)``; unannotated joints are invisible, type 0.
    """
    lab, inside = render.sample_labels(labels, points, render.disc_offsets(radius))
    tags = layer_tags[lab]
    is_part = tags >= 0
    own = is_part & OWN[np.arange(len(points))[:, None], np.where(is_part, tags, 0)]
    later = lab > first_own[:, None]
    self_hide = (is_part & ~own & later & inside).mean(1)
    other_hide = (((tags == TAG_OCCLUDER) & later & inside) | ~inside).mean(1)
    hidden = annotated & (self_hide + other_hide >= 0.5)
    occlusion = np.where(hidden, np.where(self_hide >= other_hide, 1, 2), 0).astype(np.int8)
    return annotated & ~hidden, occlusion


# --------------------------------------------------------------------------- a scene


def _background(canvas: render.LayeredCanvas, bank: render.TextureBank, rng: np.random.Generator, clutter: float) -> None:
    """Clutter behind everyone: a floor or wall edge, then blobs, boards and poles at several
    scales, and limb-like sticks, often skin-coloured (things a detector could take for a limb)."""
    r = canvas.resolution
    mats = [_random_material(canvas, bank, rng, 0.8) for _ in range(2)]
    skin = render.hsv(rng.uniform(0.02, 0.1), rng.uniform(0.2, 0.6), rng.uniform(0.35, 0.95))
    sticks = _material(canvas, bank, rng, 0.9 * skin, 1.1 * skin) if rng.random() < 0.5 else mats[1]
    if rng.random() < 0.6 * min(clutter, 1.0):  # floor or wall edge
        edge = render.rectangle(np.array([r / 2, rng.uniform(0.3, 1.0) * r + r]), rng.normal(0, 0.3), 2 * r, r)
        canvas.paint([edge], mats[0], TAG_BACKGROUND, rng.uniform(0.7, 1.1))
    for _ in range(rng.poisson(10 * clutter)):
        c = rng.uniform(-0.1, 1.1, 2) * r
        size = r * np.exp(rng.uniform(np.log(0.03), np.log(0.35)))
        kind = rng.integers(5)
        mat = mats[int(rng.integers(2))]
        if kind == 0:
            poly = [render.ellipse(c, rng.uniform(0, np.pi), size, size * rng.uniform(0.2, 1))]
        elif kind == 1:
            poly = [render.rectangle(c, rng.uniform(0, np.pi), size, size * rng.uniform(0.05, 1))]
        elif kind == 2:
            poly = [render.blob(rng, c, size)]
        else:  # one or two capsules of limb width
            w, a = r * rng.uniform(0.012, 0.04), rng.uniform(0, 2 * np.pi)
            b = c + 1.5 * size * np.array([np.cos(a), np.sin(a)])
            poly, mat = [render.capsule(c, b, w, w * rng.uniform(0.6, 1))], sticks
            if kind == 4:
                a += rng.uniform(-2, 2)
                poly.append(render.capsule(b, b + 1.2 * size * np.array([np.cos(a), np.sin(a)]), 0.9 * w, 0.7 * w))
        canvas.paint(poly, mat, TAG_BACKGROUND, rng.uniform(0.6, 1.3))


def _occluders(canvas: render.LayeredCanvas, bank: render.TextureBank, rng: np.random.Generator, count: int,
               targets: np.ndarray, guide: np.ndarray, low: np.ndarray | None, box: float) -> None:
    """``count`` objects in front of the person, each centred near one of ``targets`` (crop px),
    or, half the time, of ``guide`` (joints the source marks invisible) if there are any:
    boards, balls, bags, poles, and, given ``low`` points (knees, ankles), bands rising from the
    bottom edge to about one of them (tables, railings, a crowd in front)."""
    r = canvas.resolution
    for _ in range(count):
        mat = _random_material(canvas, bank, rng, 1.0)
        near = guide if len(guide) and rng.random() < 0.5 else targets
        c = near[rng.integers(len(near))] + rng.normal(0, 0.05 * box, 2)
        size = box * rng.uniform(0.07, 0.2)
        kind = rng.integers(5) if low is not None else rng.integers(4)
        if kind == 0:
            poly = render.ellipse(c, rng.uniform(0, np.pi), size, size * rng.uniform(0.5, 1))
        elif kind == 1:
            poly = render.rectangle(c, rng.uniform(0, np.pi), size, size * rng.uniform(0.4, 1))
        elif kind == 2:
            poly = render.blob(rng, c, size * 1.2)
        elif kind == 3:  # pole or railing
            poly = render.rectangle(c, rng.uniform(0, np.pi), 2 * box, box * rng.uniform(0.02, 0.06))
        else:  # band from the bottom edge up to about a knee or ankle, never above mid-body
            top = max(low[rng.integers(len(low))][1] + rng.normal(0, 0.05 * box), float(np.median(targets[:, 1])))
            poly = render.rectangle(np.array([r / 2, top + r]), rng.normal(0, 0.15), 2 * r, r)
        canvas.paint([poly], mat, TAG_OCCLUDER, rng.uniform(0.7, 1.2))


def _truncation(canvas: render.LayeredCanvas, bank: render.TextureBank, rng: np.random.Generator,
                joints: np.ndarray, ann: np.ndarray, box: float) -> None:
    """For a file pose whose legs are not annotated (the photo cut them off): a band over
    where they would be, black like the area outside a real photo or textured like a table."""
    if ann[list(_LOWER)].all() or rng.random() < 0.2:
        return
    above = [j for j in (*_LOWER, *_HIPS) if ann[j]]
    if not above:
        return
    r = canvas.resolution
    top = max(joints[j][1] for j in above) + rng.uniform(0.03, 0.1) * box
    black = rng.random() < 0.5
    mat = _material(canvas, bank, rng, np.zeros(3), np.zeros(3)) if black else _random_material(canvas, bank, rng, 1.0)
    angle = 0.0 if black else rng.normal(0, 0.1)
    canvas.paint([render.rectangle(np.array([r / 2, top + r]), angle, 2 * r, r)], mat, TAG_OCCLUDER)


def head_size(head: tuple[float, float] | None, head_length: float) -> float:
    """PCKh normaliser: 0.6 × the diagonal of the head box, the axis-aligned box around the
    drawn head ellipse (semi-axes ``head``). Its half-diagonal is √(a² + b²) at any tilt, so
    the size is rotation-invariant and, for an unforeshortened head, 0.75 × the head segment
    as in MPII. Without a head: MPII's 0.75 × the head segment (``head_length``)."""
    if head is None:
        return HEAD_BOX_FACTOR / 0.8 * head_length
    return HEAD_BOX_FACTOR * 2 * float(np.hypot(*head))


def render_example(cfg: SyntheticConfig, bank: render.TextureBank, index: int, pool: PosePool | None = None,
                   order: np.ndarray | None = None) -> dict[str, np.ndarray | float]:
    """Image ``index`` of ``cfg``: a dict of ``image`` (R×R×3 uint8), ``joints`` (16×2, crop px),
    ``annotated``, ``visible``, ``occlusion`` (16 each) and ``norm`` (head size, px).

    Painting order (back to front): background and clutter, a distractor behind, the person's
    parts far to near, a distractor in front, occluders. ``pool`` and ``order`` (the pool's
    seeded permutation) give file poses; without them the generator draws the pose.
    """
    rng = np.random.default_rng([cfg.seed, index])
    r, box = cfg.resolution, cfg.resolution / cfg.margin
    centre = (r - 1) / 2
    pose = sample_pose(rng) if pool is None else _pool_pose(pool, int(order[index % len(order)]), rng)
    canvas = render.LayeredCanvas(r, TAG_BACKGROUND)
    canvas.set_background(_random_material(canvas, bank, rng, 0.7))
    _background(canvas, bank, rng, cfg.clutter)

    distractor, in_front = None, False
    if rng.random() < cfg.distractors:
        other = sample_pose(rng) if pool is None else _pool_pose(pool, int(rng.integers(len(pool))), rng)
        shift = np.array([rng.choice([-1.0, 1.0]) * rng.uniform(0.4, 0.85), rng.normal(0, 0.08)])
        other = other.transformed(box * rng.uniform(0.8, 1.15), centre + shift * box)
        distractor = (body_shapes(other)[0], _person_materials(canvas, bank, rng))
        in_front = rng.random() < 0.5
        if not in_front:
            paint_person(canvas, *distractor, rng, TAG_BACKGROUND)

    pose = pose.transformed(box, np.full(2, centre))
    first_own, head = paint_target(canvas, pose, _person_materials(canvas, bank, rng), rng)
    if distractor is not None and in_front:
        paint_person(canvas, *distractor, rng, TAG_OCCLUDER)
    joints, ann = pose.joints, pose.annotated
    if pool is not None:
        _truncation(canvas, bank, rng, joints, ann, box)
    low = [j for j in _LOWER if ann[j]]
    targets = joints[ann] if ann.any() else np.full((1, 2), centre)
    guide = joints[ann & ~pose.source_visible] if pose.source_visible is not None else targets[:0]
    _occluders(canvas, bank, rng, rng.poisson(cfg.occluders), targets, guide, joints[low] if low else None, box)

    labels = canvas.labels()
    visible, occlusion = joint_visibility(labels, np.asarray(canvas.layer_tag), first_own, joints, ann,
                                          VISIBILITY_RADIUS * box)

    ramp = (np.arange(r, dtype=np.float32) - centre) / r  # light falling off across the image
    light, strength = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.5)
    shading = rng.uniform(0.75, 1.15) * (1 + strength * (np.cos(light) * ramp[None, :] + np.sin(light) * ramp[:, None]))
    image = canvas.composite(labels, shading.astype(np.float32), edge_gain=rng.uniform(0.6, 0.95))
    image = render.degrade(image, rng, bank, cfg.degradation * rng.uniform(0, 1) * r / 128, cfg.degradation * rng.uniform(1, 8))
    return {"image": image, "joints": np.where(ann[:, None], joints, 0.0), "annotated": ann,
            "visible": visible, "occlusion": occlusion, "norm": head_size(head, pose.head_length)}


def render_inputs(cfg: SyntheticConfig, data_root: Path | None = None
                  ) -> tuple[render.TextureBank, PosePool | None, np.ndarray | None]:
    """What :func:`render_example` needs besides the index: ``cfg``'s texture bank, and for file
    poses the pose pool with its seeded order (else None). Rendering image ``i`` with these gives
    the pack's person ``i``, alone (how ``tests/test_predictions.py`` checks a record)."""
    bank = render.make_texture_bank(np.random.default_rng([cfg.seed, 2**31]), cfg.resolution)
    if cfg.poses == "generator":
        return bank, None, None
    pool = load_pose_pool(cfg.poses, cfg.pose_split, data_root)
    if len(pool) == 0:
        raise ValueError(f"no poses in {pool.source} (pose_split={cfg.pose_split!r})")
    return bank, pool, np.random.default_rng([cfg.seed, 2**31 + 1]).permutation(len(pool))


def render_poseset(cfg: SyntheticConfig, data_root: Path | None = None) -> PoseSet:
    """Render ``cfg`` as a :class:`PoseSet` (MPII's 16 joints, PCKh with the head size).

    ``data_root`` (else ``$POSE_DATA``) is needed only for ``poses="mpii"``.
    """
    bank, pool, order = render_inputs(cfg, data_root)
    r, n = cfg.resolution, cfg.num
    images = np.empty((n, r, r, 3), dtype=np.uint8)
    joints = np.empty((n, NUM_MPII_JOINTS, 2), dtype=np.float32)
    annotated, visible = np.empty((n, NUM_MPII_JOINTS), dtype=bool), np.empty((n, NUM_MPII_JOINTS), dtype=bool)
    occlusion, norm = np.empty((n, NUM_MPII_JOINTS), dtype=np.int8), np.empty(n, dtype=np.float32)
    for i in range(n):
        ex = render_example(cfg, bank, i, pool, order)
        images[i], joints[i], annotated[i], visible[i] = ex["image"], ex["joints"], ex["annotated"], ex["visible"]
        occlusion[i], norm[i] = ex["occlusion"], ex["norm"]
    meta = {"dataset": "synthetic", "config": asdict(cfg), "generator_version": GENERATOR_VERSION,
            "pose_source": pool.source if pool is not None else "generator"}
    return PoseSet(images=images, joints=joints, annotated=annotated, visible=visible, norm=norm,
                   joint_ids=tuple(range(NUM_MPII_JOINTS)), metric="pckh", margin=cfg.margin,
                   occlusion=occlusion, origin=None, meta=meta)


def bench(n: int = 200) -> float:
    """Images per second of :func:`render_poseset` with the default config (texture bank included)."""
    cfg = SyntheticConfig(num=n)
    start = time.perf_counter()
    render_poseset(cfg)
    return n / (time.perf_counter() - start)
