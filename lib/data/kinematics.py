"""Human poses for the synthetic benchmark: a 3D kinematic generator and depth for 2D poses.

The generator builds a skeleton from the pelvis outwards with anatomical segment lengths
(fractions of standing height, Winter's anthropometric table as calibrated against MPII below)
and joint angles drawn inside human ranges, rotates it to a random view (facing front, side
or back, a camera elevation and an in-plane lean) and projects it orthographically. The
projection keeps each joint's depth, so the renderer can draw limbs in depth order and the far
side's limbs disappear behind the torso: the self-occlusion of PBN Fig. 7 (top row).

Poses read from annotation files (MPII) are 2D only; :func:`depth_from_2d` gives them a
plausible depth from their facing, so that the same renderer applies.

Coordinates: x right, y down (image axes), z away from the camera (larger = farther), in units
of the person box (the box MPII crops use, 1.25 × 200 · scale px, see ``lib.data.pack``),
centred on the box centre. Joint order: MPII's 16 joints (``lib.joints``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from lib.joints import idx

_R_ANK, _R_KNEE, _R_HIP, _L_HIP, _L_KNEE, _L_ANK = range(6)
_PELVIS, _THORAX, _NECK, _HEAD = 6, 7, 8, 9
_R_WRI, _R_ELB, _R_SHO, _L_SHO, _L_ELB, _L_WRI = range(10, 16)

#: Segment lengths as fractions of standing height (Winter, "Biomechanics and Motor Control of
#: Human Movement", Fig. 4.1), with the shoulder and hip spacing measured between MPII's joint
#: positions rather than bony landmarks (the 90th percentile of MPII's 2D segment lengths, i.e.
#: the least foreshortened, matches these within 10%). The sum head + neck + trunk + thigh +
#: shank plus an ankle height of 0.04 is one standing height.
SEGMENTS: dict[str, float] = {
    "head": 0.130,  # head top to upper neck (chin level)
    "neck": 0.055,  # upper neck to thorax
    "trunk": 0.290,  # thorax to pelvis
    "shoulder": 0.105,  # thorax to each shoulder joint
    "hip": 0.065,  # pelvis to each hip joint
    "upper_arm": 0.186,
    "forearm": 0.146,
    "thigh": 0.245,
    "shank": 0.246,
}

#: The bones of the skeleton tree, (parent joint, child joint, segment name).
BONES: tuple[tuple[int, int, str], ...] = (
    (_PELVIS, _R_HIP, "hip"), (_PELVIS, _L_HIP, "hip"),
    (_R_HIP, _R_KNEE, "thigh"), (_R_KNEE, _R_ANK, "shank"),
    (_L_HIP, _L_KNEE, "thigh"), (_L_KNEE, _L_ANK, "shank"),
    (_PELVIS, _THORAX, "trunk"), (_THORAX, _NECK, "neck"), (_NECK, _HEAD, "head"),
    (_THORAX, _R_SHO, "shoulder"), (_THORAX, _L_SHO, "shoulder"),
    (_R_SHO, _R_ELB, "upper_arm"), (_R_ELB, _R_WRI, "forearm"),
    (_L_SHO, _L_ELB, "upper_arm"), (_L_ELB, _L_WRI, "forearm"),
)

#: Standing height in person-box units. MPII's ``scale`` is 1/6 of the head segment's 200 px
#: (|head top − upper neck| = 200·scale/6 for every MPII person), so the 1.25 × 200·scale box
#: holds 7.5 head segments = 7.5 × 0.13 = 0.975 heights: one height ≈ 1.03 box.
HEIGHT_IN_BOX = 1.0 / (7.5 * SEGMENTS["head"])

LEFT_JOINTS: tuple[int, ...] = idx("l_hip", "l_knee", "l_ankle", "l_shoulder", "l_elbow", "l_wrist")
RIGHT_JOINTS: tuple[int, ...] = idx("r_hip", "r_knee", "r_ankle", "r_shoulder", "r_elbow", "r_wrist")

#: Pose families and their probabilities; each sets the angle ranges of :func:`_sample_angles`.
MODES: dict[str, float] = {"stand": 0.3, "walk": 0.25, "sit": 0.15, "free": 0.3}


@dataclass(frozen=True)
class Pose:
    """One person's pose in person-box units (crop pixels after :meth:`transformed`), ready to draw.

    Attributes:
        joints: ``16×2`` float, x right and y down, box centre at (0, 0).
        depth: ``16`` float, larger = farther from the camera.
        annotated: ``16`` bool; joints without a position are not drawn.
        forward: ``2`` float, the facing direction projected to the image (length 1 in profile,
            0 facing the camera); feet point this way.
        height: standing height, box units (limb widths scale with it).
        head_length: 3D head-segment length, box units: heads stay round when foreshortened.
        source_visible: the source annotation's visibility flags (MPII), or None.
    """

    joints: np.ndarray
    depth: np.ndarray
    annotated: np.ndarray
    forward: np.ndarray
    height: float
    head_length: float
    source_visible: np.ndarray | None = None

    def transformed(self, scale: float, offset: np.ndarray) -> "Pose":
        """The same pose scaled by ``scale`` and moved by ``offset`` (e.g. into crop pixels)."""
        return replace(self, joints=self.joints * scale + offset, depth=self.depth * scale,
                       height=self.height * scale, head_length=self.head_length * scale)


def _rot(axis: int, deg: float) -> np.ndarray:
    """Rotation by ``deg`` degrees about coordinate axis 0 (x), 1 (y) or 2 (z)."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    if axis == 0:
        return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    if axis == 1:
        return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _align_down(u: np.ndarray) -> np.ndarray:
    """The smallest rotation taking "down" (0, 1, 0) to unit vector ``u`` (Rodrigues; ``u``
    must not point straight up, which the reach limits of :func:`_sample_angles` ensure).

    A limb's frame (front, outside) follows its direction this way, so an elbow or knee bends
    in the plane a human one would for the same limb direction.
    """
    v = np.array([u[2], 0.0, -u[0]])  # (0, 1, 0) × u
    c = u[1]
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1.0 + c)


def _limb_direction(elev: float, azim: float, side: float) -> np.ndarray:
    """Unit vector ``elev`` degrees up from hanging down, ``azim`` degrees round from forward
    (0 forward, 90 outward to the limb's ``side`` (+1 left, −1 right), 180 backward)."""
    e, a = np.radians(elev), np.radians(azim)
    return np.array([side * np.sin(e) * np.sin(a), np.cos(e), -np.sin(e) * np.cos(a)])


# Largest elevation reachable at each azimuth (shoulder and hip range of motion).
_ARM_REACH = (np.array([-60.0, 0, 90, 180, 240]), np.array([120.0, 175, 175, 60, 30]))
_LEG_REACH = (np.array([-45.0, 0, 90, 180]), np.array([60.0, 125, 70, 35]))


def _sample_angles(rng: np.random.Generator, mode: str) -> dict[str, np.ndarray]:
    """Joint angles in degrees for one pose; arrays are (right, left) per limb."""
    u = rng.uniform
    two = (2,)
    a: dict[str, np.ndarray] = {
        "trunk": np.array([u(-10, 20), u(-10, 10), u(-20, 20)]),  # flexion, lateral, twist
        "neck": np.array([u(-20, 30), u(-15, 15)]),  # flexion, lateral
        "arm_azim": u(-20, 120, two), "arm_frac": u(0, 0.25, two), "elbow": u(0, 60, two),
        "arm_twist": u(-30, 60, two), "leg_azim": u(-20, 120, two), "leg_frac": u(0, 0.12, two),
        "knee": u(0, 20, two), "leg_twist": u(-10, 10, two),
    }
    if mode == "walk":
        swing = u(0.1, 0.45)
        front = int(rng.integers(2))  # which leg swings forward; the opposite arm follows it
        a["leg_azim"] = np.where(np.arange(2) == front, u(-10, 20), u(160, 190)).astype(float)
        a["leg_frac"] = np.array([swing, swing * 0.6])[[0, 1] if front == 0 else [1, 0]]
        a["knee"] = np.where(np.arange(2) == front, u(0, 40), u(20, 110))
        a["arm_azim"] = np.where(np.arange(2) == front, u(150, 200), u(-10, 20)).astype(float)
        a["arm_frac"] = u(0.05, 0.35, two)
        a["elbow"] = u(10, 110, two)
        a["trunk"][0] = u(-5, 25)
    elif mode == "sit":
        a["leg_azim"] = u(-15, 40, two)
        a["leg_frac"] = u(0.55, 0.95, two)
        a["knee"] = u(50, 140, two)
        a["trunk"][0] = u(-10, 45)
        a["arm_azim"], a["arm_frac"], a["elbow"] = u(-40, 100, two), u(0, 0.5, two), u(10, 130, two)
    elif mode == "free":
        a["trunk"] = np.array([u(-25, 75), u(-25, 25), u(-40, 40)])
        a["neck"] = np.array([u(-40, 50), u(-30, 30)])
        a["arm_azim"], a["arm_frac"], a["elbow"] = u(-60, 240, two), u(0, 1, two), u(0, 150, two)
        a["arm_twist"] = u(-60, 90, two)
        a["leg_azim"], a["leg_frac"], a["knee"] = u(-45, 180, two), u(0, 1, two), u(0, 150, two)
        a["leg_twist"] = u(-25, 25, two)
    elif mode != "stand":
        raise ValueError(f"unknown pose mode {mode!r}; choose one of {sorted(MODES)}")
    a["arm_elev"] = a["arm_frac"] * np.interp(a["arm_azim"], *_ARM_REACH)
    a["leg_elev"] = a["leg_frac"] * np.interp(a["leg_azim"], *_LEG_REACH)
    return a


def _limb(base: np.ndarray, frame: np.ndarray, elev: float, azim: float, bend: float, twist: float,
          side: float, lengths: tuple[float, float], knee: bool) -> tuple[np.ndarray, np.ndarray]:
    """Middle and end joint of a two-segment limb hanging from ``base`` in parent ``frame``.

    An elbow bends towards the arm's front, turned inwards by the humeral ``twist``; a knee
    bends towards the thigh's back.
    """
    u = _limb_direction(elev, azim, side)
    r = _align_down(u)
    front, outside = r @ np.array([0.0, 0.0, -1.0]), r @ np.array([side, 0.0, 0.0])
    t = np.radians(twist)
    toward = np.cos(t) * front - np.sin(t) * outside
    if knee:
        toward = -toward
    b = np.radians(bend)
    lower = np.cos(b) * u + np.sin(b) * toward
    mid = base + frame @ (lengths[0] * u)
    return mid, mid + frame @ (lengths[1] * lower)


def sample_skeleton(rng: np.random.Generator, *, mode: str | None = None, proportion_jitter: float = 0.04) -> np.ndarray:
    """A ``16×3`` skeleton in the body frame (facing −z, its left = +x), standing height 1.

    Segment lengths are :data:`SEGMENTS`, each scaled by ``1 + N(0, proportion_jitter)``
    (clipped to ±2.5σ, the same on both sides); angles come from a pose family of
    :data:`MODES` (``mode`` picks one; None draws one by its probability).
    """
    if mode is None:
        mode = str(rng.choice(list(MODES), p=list(MODES.values())))
    scale = 1 + np.clip(rng.normal(0, 1, len(SEGMENTS)), -2.5, 2.5) * proportion_jitter
    jit = {k: v * float(f) for (k, v), f in zip(SEGMENTS.items(), scale)}
    a = _sample_angles(rng, mode)
    p = np.zeros((16, 3))
    p[_R_HIP], p[_L_HIP] = (-jit["hip"], 0, 0), (jit["hip"], 0, 0)
    trunk = _rot(0, a["trunk"][0]) @ _rot(2, a["trunk"][1]) @ _rot(1, a["trunk"][2])
    p[_THORAX] = trunk @ (0, -jit["trunk"], 0)
    p[_R_SHO] = p[_THORAX] + trunk @ (-jit["shoulder"], 0, 0)
    p[_L_SHO] = p[_THORAX] + trunk @ (jit["shoulder"], 0, 0)
    neck = trunk @ _rot(0, a["neck"][0]) @ _rot(2, a["neck"][1])
    p[_NECK] = p[_THORAX] + neck @ (0, -jit["neck"], 0)
    p[_HEAD] = p[_NECK] + neck @ (0, -jit["head"], 0)
    for k, (side, sho, elb, wri, hip, kne, ank) in enumerate(
        ((-1.0, _R_SHO, _R_ELB, _R_WRI, _R_HIP, _R_KNEE, _R_ANK), (1.0, _L_SHO, _L_ELB, _L_WRI, _L_HIP, _L_KNEE, _L_ANK))
    ):
        p[elb], p[wri] = _limb(p[sho], trunk, a["arm_elev"][k], a["arm_azim"][k], a["elbow"][k], a["arm_twist"][k],
                               side, (jit["upper_arm"], jit["forearm"]), knee=False)
        p[kne], p[ank] = _limb(p[hip], np.eye(3), a["leg_elev"][k], a["leg_azim"][k], a["knee"][k], a["leg_twist"][k],
                               side, (jit["thigh"], jit["shank"]), knee=True)
    return p


def sample_view(rng: np.random.Generator) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees: any facing, a camera a little above or below, and an
    in-plane lean that is mostly small but sometimes large (falls, gymnastics, lying people)."""
    yaw = rng.uniform(-180, 180)
    pitch = min(max(float(rng.normal(0, 12)), -35.0), 35.0)
    r = rng.random()
    roll = rng.normal(0, 8) if r < 0.85 else rng.uniform(-60, 60) if r < 0.96 else rng.uniform(-180, 180)
    return float(yaw), pitch, float(roll)


def view(skeleton: np.ndarray, yaw: float, pitch: float, roll: float) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame ``16×3`` joints of a body-frame skeleton, and its facing direction (3)."""
    r = _rot(2, roll) @ _rot(0, pitch) @ _rot(1, yaw)
    return skeleton @ r.T, r @ np.array([0.0, 0.0, -1.0])


def sample_pose(rng: np.random.Generator, *, height_jitter: float = 0.07, center_jitter: float = 0.04,
                proportion_jitter: float = 0.04, mode: str | None = None) -> Pose:
    """A generated pose in box units: skeleton, view, projection, then scale and placement.

    The person's standing height is :data:`HEIGHT_IN_BOX` × exp(N(0, ``height_jitter``)) and
    its joints' bounding box is centred on the box centre ± N(0, ``center_jitter``), the way
    MPII's person boxes hold their people.
    """
    skel = sample_skeleton(rng, mode=mode, proportion_jitter=proportion_jitter)
    cam, fwd = view(skel, *sample_view(rng))
    h = HEIGHT_IN_BOX * float(np.exp(rng.normal(0, height_jitter)))
    cam = cam * h
    centre = (cam[:, :2].min(0) + cam[:, :2].max(0)) / 2 - rng.normal(0, center_jitter, 2)
    return Pose(
        joints=cam[:, :2] - centre,
        depth=cam[:, 2] - cam[_PELVIS, 2],
        annotated=np.ones(16, dtype=bool),
        forward=fwd[:2],
        height=h,
        head_length=float(np.linalg.norm(skel[_HEAD] - skel[_NECK])) * h,
    )


def depth_from_2d(joints: np.ndarray, annotated: np.ndarray, rng: np.random.Generator,
                  far_side: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A plausible depth (``16``) and facing direction (``2``) for a 2D pose in box units.

    A 2D pose does not say which side is nearer the camera. The narrower the shoulders and
    hips look (relative to the trunk), the more the person is seen in profile and the farther
    behind the other the far side's limbs are placed; ``far_side`` (+1 left, −1 right, e.g.
    the side with more joints the source marks invisible) picks the far side, else it is
    random. Arms and legs get extra depth noise so they sometimes cross in front of the body.
    """
    trunk = (np.linalg.norm(joints[_THORAX] - joints[_PELVIS])
             if annotated[_THORAX] and annotated[_PELVIS] else SEGMENTS["trunk"] * HEIGHT_IN_BOX)
    # Each span's fraction of its frontal width (the span seen from the front, relative to the trunk).
    widths = [abs(joints[a, 0] - joints[b, 0]) / max(trunk, 1e-6) / (2 * SEGMENTS[seg] / SEGMENTS["trunk"])
              for a, b, seg in ((_L_SHO, _R_SHO, "shoulder"), (_L_HIP, _R_HIP, "hip")) if annotated[a] and annotated[b]]
    profile = 1 - float(np.clip(np.mean(widths), 0, 1)) if widths else rng.uniform()
    far = far_side if far_side in (-1, 1) else (1 if rng.random() < 0.5 else -1)
    offset = SEGMENTS["shoulder"] * HEIGHT_IN_BOX * (0.3 + 0.7 * profile)
    depth = np.zeros(16)
    depth[list(LEFT_JOINTS)] = far * offset
    depth[list(RIGHT_JOINTS)] = -far * offset
    limbs = list(idx("r_elbow", "r_wrist", "l_elbow", "l_wrist", "r_knee", "r_ankle", "l_knee", "l_ankle"))
    depth[limbs] += rng.normal(0, 0.06, len(limbs))
    # Facing: the direction the chest points, seen from the side (random sign: 2D cannot tell).
    facing = np.array([rng.choice([-1.0, 1.0]) * profile, 0.0])
    return depth, facing
