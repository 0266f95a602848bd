"""Person crops cut from the real photos, and the packed cache that makes runs start in seconds.

Cutting crops from full photos (decode a JPEG, resample a box) is the slow part of loading a
real dataset, so it is done once per (dataset, split, resolution, margin) and the crops are
saved as one JPEG-compressed :class:`~lib.data.poseset.PoseSet` file, a *pack*, under a cache
folder (default ``<repo>/.cache/packs``). A pack records the parameters it was built with
(:class:`PackSpec`) and the files it was built from (:class:`PackSources`: the annotation files'
content hashes and the photo folder), and is used only when both match the request, so a stale
pack is rebuilt (with a warning), never silently reused. A pack does not need the data root to be
read: where no data root is available at all it is used on its parameters alone, so it travels
to a GPU machine on its own. A pack that cannot be read is rebuilt with a warning when the data
is there, else it is a one-line :class:`~lib.errors.DataFileError`.

Crop geometry (PBN Sec. 4.1: "cropped around a target person according to the annotated body
position and scale"):

* **MPII**: person box centred at ``objpos + (0, 15·scale)`` with side ``200·scale·1.25``, the
  vertical shift and ×1.25 enlargement of the reference implementations (stacked hourglass,
  pytorch-pose, HRNet), applied to train and validation alike;
* **LSP Extended**: the square box around the annotated joints, ×1.25
  (:data:`lib.data.lsp.BOX_FACTOR`).

The crop is ``margin`` × the person box, resampled to ``resolution`` px with PIL's antialiased
bilinear filter; image area outside the photo is black (as cv2's default border in the
reference implementations). Joints outside the photo or the crop stay annotated (the
evaluation counts them); training gives them no target where they fall off the heatmap.
"""

from __future__ import annotations

import hashlib
import json
import struct
import warnings
import zlib
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image
from tqdm import tqdm

from lib.errors import DataFileError, describe
from lib.joints import LSP_TO_MPII, NUM_MPII_JOINTS
from lib.data import lsp, mpii
from lib.data.paths import default_cache_dir
from lib.data.poseset import PoseSet

#: Bump when the crop geometry or the stored fields change: older packs are then rebuilt.
#: 2: LSP torso from the left shoulder to the right hip (standard LSP evaluation);
#: 3: the pack's sources (annotation hashes, photo folder) in its meta.
PACK_VERSION = 3

#: JPEG quality of packed crops: at 128 px the whole LSP Extended pack (train + val) is ~46 MiB,
#: small enough to carry to a GPU machine (quality 90 would be ~56 MiB, 75 ~37 MiB).
JPEG_QUALITY = 85

#: MPII person box: the reference implementations' vertical centre shift and enlargement.
MPII_CENTER_SHIFT, MPII_BOX_FACTOR, MPII_PX_PER_SCALE = 15.0, 1.25, 200.0


@dataclass(frozen=True)
class PackSpec:
    """What a pack was built from; the pack is reused only when its spec equals the request."""

    dataset: str
    split: str
    resolution: int
    margin: float
    limit: int | None = None
    require_images: bool = True
    jpeg_quality: int = JPEG_QUALITY
    synthetic: dict | None = None
    version: int = PACK_VERSION

    def file_name(self) -> str:
        """``lspet-train-r128-m1.25[-n100][-<config hash>].npz``: one file per split and spec."""
        name = f"{self.dataset}-{self.split}-r{self.resolution}-m{self.margin:g}"
        if self.limit is not None:
            name += f"-n{self.limit}"
        if not self.require_images:
            name += "-available"
        if self.synthetic is not None:
            digest = hashlib.sha1(json.dumps(self.synthetic, sort_keys=True).encode()).hexdigest()[:10]
            name += f"-{digest}"
        return name + ".npz"

    def as_meta(self) -> dict:
        return json.loads(json.dumps(asdict(self)))


@dataclass(frozen=True)
class PackSources:
    """The files a pack's people come from, as they are in a data root.

    ``files`` maps each annotation file (relative to the root, e.g. ``lspet/joints.mat``) to its
    size and SHA-256, or to None where the root lacks it; ``images`` is the photo folder, relative
    to the root when inside it. Two sources match when both agree: content identifies the
    annotations, so the same files under another mount point (a GPU machine) still match, while
    an edited, replaced or different annotation file, or another photo folder, does not. ``root``
    (the resolved data root) is provenance only.
    """

    root: str = ""
    files: dict = field(default_factory=dict)
    images: str = ""

    def as_meta(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    def difference(self, recorded: dict | None) -> str | None:
        """How the ``recorded`` sources (a pack's meta) differ from these; None when they match."""
        if not isinstance(recorded, dict):
            return "it records no sources (built by older code)"
        mine = self.as_meta()
        changes = []
        for name in sorted(set(mine["files"]) | set(recorded.get("files") or {})):
            was, now = (recorded.get("files") or {}).get(name), mine["files"].get(name)
            if was != now:
                changes.append(f"{name} {_file_state(was)} then, {_file_state(now)} now")
        if recorded.get("images") != mine["images"]:
            changes.append(f"photos from {recorded.get('images')!r} then, {mine['images']!r} now")
        if not changes:
            return None
        return f"built from {recorded.get('root') or '?'}, data root now {self.root}: " + "; ".join(changes)


def _file_state(entry: dict | None) -> str:
    if not isinstance(entry, dict):
        return "absent"
    return f"{entry.get('size')} bytes sha256 {str(entry.get('sha256'))[:12]}"


def file_fingerprint(path: Path) -> dict | None:
    """``{"size", "sha256"}`` of the file at ``path``, or None if there is none (hashing LSP
    Extended's joints.mat or MPII's annotations takes milliseconds)."""
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


def pack_file(ps: PoseSet, cache_dir: Path | None = None) -> Path:
    """The pack file that served ``ps`` (:func:`lib.data.load_poseset` read or wrote it there)."""
    return (cache_dir or default_cache_dir()) / PackSpec(**ps.meta["pack"]).file_name()


def pack_sources(dataset: str, split: str, root: Path | None, images_dir: Path | None = None) -> PackSources | None:
    """The sources a pack of ``dataset``/``split`` would be built from under ``root`` now.

    None when they cannot be known: no data root, or a root without the dataset's folder (a GPU
    machine that carries packs but not the data); a cached pack is then used on its parameters
    alone. Datasets rendered from generated poses have no source files.
    """
    if dataset == "synthetic":
        return PackSources()
    folder = "lspet" if dataset == "lspet" else "mpii"
    if root is None or not (root / folder).is_dir():
        return None
    root = root.resolve()
    if dataset == "lspet":
        names = [root / "lspet" / "joints.mat"]
    elif dataset == "synthetic-mpii":
        names = [root / "mpii" / "mpii_annotations.json.gz"]  # what lib.data.synthetic reads
    else:
        try:
            names = mpii.annotation_files(root / "mpii", split)
        except FileNotFoundError:
            names = [root / "mpii" / "mpii_annotations.json.gz"]  # absent: never matches, the build says why
    images = ""
    if dataset in ("lspet", "mpii"):
        photos = (images_dir or root / folder / "images").resolve()
        images = str(photos.relative_to(root)) if photos.is_relative_to(root) else str(photos)
    files = {str(path.relative_to(root)): file_fingerprint(path) for path in names}
    return PackSources(str(root), files, images)


def read_pack(path: Path, spec: PackSpec, sources: PackSources | None) -> tuple[PoseSet | None, str | None]:
    """The pack at ``path`` if it was built with ``spec`` from ``sources``, else why not.

    Returns ``(pack, None)`` when it can be used, ``(None, reason)`` when a pack exists but is
    unreadable, was built with other parameters or from other sources (the caller rebuilds it and
    warns with the reason), ``(None, None)`` when there is none. With ``sources`` None (no data
    root: nothing to rebuild from) a parameter match is enough, and an unreadable pack is a
    :class:`DataFileError`.
    """
    if not path.is_file():
        return None, None
    try:
        ps = PoseSet.load(path)
    except DataFileError as e:
        if sources is None:
            raise DataFileError(path, f"cached pack {e.problem}",
                                "delete it and build it again where the data root is available (set POSE_DATA)") from None
        return None, f"cached pack {path} {e.problem}"
    if ps.meta.get("pack") != spec.as_meta():
        return None, (f"cached pack {path} was built with other parameters or an older version of this code "
                      f"({ps.meta.get('pack')})")
    if sources is not None:
        difference = sources.difference(ps.meta.get("sources"))
        if difference is not None:
            return None, f"cached pack {path} is stale, {difference}"
    return ps, None


@contextmanager
def build_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside the pack ``path`` (``<path>.lock``, POSIX ``flock``).

    Processes that need the same missing pack at once (``python -m lib.train --all --parallel``)
    build it once: the first builds, the others wait and then read it. Where ``fcntl`` does not
    exist (Windows) there is no lock, and each process builds the pack; every write is atomic, so
    that only costs time.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def write_pack(ps: PoseSet, path: Path, spec: PackSpec, sources: PackSources) -> None:
    """Save ``ps`` JPEG-compressed with ``spec`` and ``sources`` in its meta, atomically."""
    ps.meta["pack"] = spec.as_meta()
    ps.meta["sources"] = sources.as_meta()
    ps.save(path, jpeg_quality=spec.jpeg_quality)


# --------------------------------------------------------------------------- cropping


def read_image(path: Path) -> Image.Image:
    """An RGB photo: ``FileNotFoundError`` when missing, :class:`DataFileError` naming the file
    when empty, truncated or not an image."""
    if not path.is_file():
        raise FileNotFoundError(
            f"image {path} not found; point images_dir at the full image folder (command lines: under --data-root), or "
            "pass require_images=False (python -m lib.data: --allow-missing-images) to keep only people whose "
            "images exist"
        )
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error, zlib.error,
            Image.DecompressionBombError) as e:  # PIL's decoders fail in all these ways on damaged files
        raise DataFileError(path, f"is not a readable image, truncated or damaged ({describe(e)})",
                            "replace it with the original photo, or delete it and pass require_images=False "
                            "(python -m lib.data: --allow-missing-images)") from None


def crop_person(img: Image.Image, center: np.ndarray, side: float, resolution: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``resolution``² crop of side ``margin·side`` image px around ``center``, and its origin.

    Returns ``(crop R×R×3 uint8, origin (ox, oy, s))`` with ``image_xy = origin + crop_xy · s``
    in integer-centred pixel coordinates (PoseSet's convention). PIL's ``box`` works in
    edge-based coordinates (pixel i spans [i, i+1)), hence the half-pixel terms.
    """
    if not side > 0:
        raise ValueError(f"person box side must be positive, got {side}")
    s = side * margin / resolution
    left = float(center[0]) + 0.5 - s * resolution / 2
    top = float(center[1]) + 0.5 - s * resolution / 2
    # PIL's box must lie inside the image: paste the needed region onto black first.
    x0, y0 = int(np.floor(left)), int(np.floor(top))
    x1, y1 = int(np.ceil(left + s * resolution)), int(np.ceil(top + s * resolution))
    region = Image.new("RGB", (x1 - x0, y1 - y0))
    region.paste(img.crop((max(x0, 0), max(y0, 0), min(x1, img.width), min(y1, img.height))), (max(-x0, 0), max(-y0, 0)))
    box = (left - x0, top - y0, left - x0 + s * resolution, top - y0 + s * resolution)
    crop = region.resize((resolution, resolution), Image.Resampling.BILINEAR, box=box)
    origin = np.array([left - 0.5 + 0.5 * s, top - 0.5 + 0.5 * s, s], dtype=np.float32)
    return np.asarray(crop, dtype=np.uint8), origin


def crop_people(images_dir: Path, names: list[str], centers: np.ndarray, sides: np.ndarray,
                resolution: int, margin: float, desc: str = "cropping",
                image_sizes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Crops and origins of people ``i`` from ``images_dir / names[i]``; each photo opened once.

    With ``image_sizes`` (``N×2`` width, height the annotations were made on) a photo of another
    size is an error: a resized photo would silently misplace every joint.
    """
    n = len(names)
    images = np.zeros((n, resolution, resolution, 3), dtype=np.uint8)
    origin = np.zeros((n, 3), dtype=np.float32)
    by_image: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        by_image.setdefault(name, []).append(i)
    for name, rows in tqdm(by_image.items(), desc=desc, unit="img", disable=None):
        img = read_image(images_dir / name)
        if image_sizes is not None and tuple(image_sizes[rows[0]]) != (img.width, img.height):
            w, h = image_sizes[rows[0]]
            raise DataFileError(images_dir / name, f"is {img.width}×{img.height} px but was annotated at {w:g}×{h:g}",
                                "use the original photos, not resized copies")
        for i in rows:
            images[i], origin[i] = crop_person(img, centers[i], float(sides[i]), resolution, margin)
    return images, origin


def to_crop(joints: np.ndarray, annotated: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Image-pixel joints ``N×J×2`` in crop pixels; unannotated joints become (0, 0)."""
    crop = (joints - origin[:, None, :2]) / origin[:, None, 2:3]
    return np.where(annotated[..., None], crop, 0).astype(np.float32)


def keep_available(images_dir: Path, names: list[str], require_images: bool, what: str) -> np.ndarray:
    """Rows whose image exists; with ``require_images`` a missing image is an error naming it."""
    exists = {name: (images_dir / name).is_file() for name in set(names)}
    keep = np.array([exists[name] for name in names], dtype=bool)
    if not keep.all():
        missing = sorted({n for n, e in exists.items() if not e})
        if require_images:
            raise FileNotFoundError(
                f"{what}: {len(missing)} images missing from {images_dir} (first: {missing[0]}); "
                "point images_dir at the full image folder (command lines: under --data-root), or pass "
                "require_images=False (python -m lib.data: --allow-missing-images) to keep only the people "
                "whose images exist"
            )
        warnings.warn(f"{what}: dropped {int((~keep).sum())} of {len(keep)} people whose images are "
                      f"missing from {images_dir} ({len(missing)} images)", stacklevel=3)
    return np.flatnonzero(keep)


# --------------------------------------------------------------------------- datasets


def build_mpii(root: Path, spec: PackSpec, images_dir: Path | None = None) -> PoseSet:
    """MPII people of ``spec.split`` as crops (see the module docstring for the box).

    Annotations: ``mpii/mpii_annotations.json.gz`` (or ``.json``), else ``mpii/train.json`` /
    ``mpii/valid.json``; head boxes from ``mpii/detections_our_format.mat`` when present.
    """
    ann = mpii.split_annotations(root / "mpii", spec.split)
    images_dir = images_dir or root / "mpii" / "images"
    rows = keep_available(images_dir, ann.images, spec.require_images, f"MPII {spec.split}")
    dropped = len(ann) - len(rows)
    ann = ann.subset(rows[: spec.limit])
    if len(ann) == 0:
        raise FileNotFoundError(f"no MPII {spec.split} people have images in {images_dir}; point images_dir at "
                                "the MPII image folder (command lines: under --data-root)")
    centers = ann.center + np.stack([np.zeros_like(ann.scale), MPII_CENTER_SHIFT * ann.scale], 1)
    sides = MPII_PX_PER_SCALE * MPII_BOX_FACTOR * ann.scale
    images, origin = crop_people(images_dir, ann.images, centers, sides, spec.resolution, spec.margin,
                                 f"MPII {spec.split}", ann.image_sizes)
    return PoseSet(
        images=images,
        joints=to_crop(ann.joints, ann.annotated, origin),
        annotated=ann.annotated,
        visible=ann.visible,
        norm=(mpii.head_sizes(ann) / origin[:, 2]).astype(np.float32),
        joint_ids=tuple(range(NUM_MPII_JOINTS)),
        metric="pckh",
        margin=spec.margin,
        origin=origin,
        meta={"dataset": "mpii", "split": spec.split, "source": ann.source, "images_dir": str(images_dir),
              "images": ann.images, "dropped_missing_images": dropped,
              "visibility_known": ann.visibility_known, "official_headboxes": ann.headboxes is not None},
    )


def build_lspet(root: Path, spec: PackSpec, images_dir: Path | None = None) -> PoseSet:
    """LSP Extended people of ``spec.split`` (last 1,000 = ``"val"``) as crops, PCK@0.2 torso norm.

    Boxes and torso sizes are computed on the whole file before splitting, so the torso fallback
    (:func:`lib.data.lsp.torso_sizes`) is the same for both splits.
    """
    ann = lsp.read_lsp(root / "lspet" / "joints.mat")
    centers, sides = lsp.person_boxes(ann)
    torso, rule = lsp.torso_sizes(ann, sides)
    part = lsp.lspet_split(ann, spec.split)
    rows = np.arange(len(ann))[slice(len(ann) - len(part), None) if spec.split == "val" else slice(0, len(part))]
    images_dir = images_dir or root / "lspet" / "images"
    keep = keep_available(images_dir, part.images, spec.require_images, f"LSP Extended {spec.split}")
    dropped = len(part) - len(keep)
    rows = rows[keep][: spec.limit]
    part = ann.subset(rows)
    images, origin = crop_people(images_dir, part.images, centers[rows], sides[rows], spec.resolution, spec.margin, f"LSPET {spec.split}")
    return PoseSet(
        images=images,
        joints=to_crop(part.joints, part.annotated, origin),
        annotated=part.annotated,
        visible=part.visible,
        norm=(torso[rows] / origin[:, 2]).astype(np.float32),
        joint_ids=LSP_TO_MPII,
        metric="pck",
        margin=spec.margin,
        origin=origin,
        meta={"dataset": "lspet", "split": spec.split, "source": ann.source, "images_dir": str(images_dir),
              "images": part.images, "dropped_missing_images": dropped,
              "torso_rule_counts": np.bincount(rule[rows], minlength=3).tolist()},
    )
