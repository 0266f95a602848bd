"""The one in-memory form of every dataset: person crops with their joints, ready to train on.

Every loader (MPII, LSP Extended, the synthetic renderer) ends in a :class:`PoseSet`, and the
training engine sees nothing else. A crop is square, ``resolution`` pixels wide, centred on the
person; the person's box (MPII: 200·scale·1.25 px, LSP: the joints' extent, see the loaders)
spans ``resolution / margin`` pixels in its middle, so that augmentation (scale, rotation, shear)
has real pixels to draw from around the box. All coordinates are crop pixels (x right, y down,
pixel centres at integer coordinates); ``norm`` is the PCK normaliser in the same pixels, so
metrics computed in crop space equal those computed in image space (the crop is a similarity).
"""

from __future__ import annotations

import io
import json
import os
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
from PIL import Image

from lib.errors import DataFileError, check_magic, describe

#: The first bytes of every .npz (a zip archive).
ZIP_MAGIC = b"PK\x03\x04"
#: Failures of reading a damaged ``.npz`` or JPEG: numpy's zip and header parsing, PIL's decoders.
_READ_ERRORS = (OSError, EOFError, KeyError, ValueError, TypeError, IndexError, SyntaxError, struct.error,
                zlib.error, zipfile.BadZipFile, UnicodeDecodeError)


@dataclass
class PoseSet:
    """Person crops and their annotations; arrays share their first axis (one row per person).

    Attributes:
        images: ``N×R×R×3`` uint8 RGB crops.
        joints: ``N×J×2`` float32 joint positions in crop pixels.
        annotated: ``N×J`` bool, the joint has a ground-truth position (MPII's "annotated";
            missing joints of MPII are (0, 0) in the files and False here).
        visible: ``N×J`` bool, the joint is visible (MPII's visibility flag, LSP's flag, or the
            synthetic renderer's own test); always False where not annotated.
        norm: ``N`` float32 PCK normaliser in crop pixels: the head size (0.6 × head-box
            diagonal) for ``metric == "pckh"``, the torso size for ``metric == "pck"``.
        joint_ids: MPII index of each of the J joints (``lib.joints``), so groups and splits
            written in MPII indices apply to any dataset.
        metric: ``"pckh"`` (MPII, synthetic) or ``"pck"`` (LSP, torso-normalised).
        margin: crop side / person-box side.
        occlusion: optional ``N×J`` int8: 0 visible, 1 hidden by the person's own body,
            2 hidden by another object or person (synthetic only; PBN Fig. 7's two cases).
        origin: optional ``N×3`` float32 mapping back to the source image:
            ``image_xy = origin[:, :2] + crop_xy * origin[:, 2:3]``.
        meta: free-form provenance (dataset, split, source file, seed, ...), JSON-serialisable.
    """

    images: np.ndarray
    joints: np.ndarray
    annotated: np.ndarray
    visible: np.ndarray
    norm: np.ndarray
    joint_ids: tuple[int, ...]
    metric: str
    margin: float
    occlusion: np.ndarray | None = None
    origin: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.ndim != 4 or self.images.shape[3] != 3 or self.images.shape[1] != self.images.shape[2]:
            raise ValueError(f"images must be N×R×R×3, got {self.images.shape}")
        if self.images.dtype != np.uint8:
            raise ValueError(f"images must be uint8, got {self.images.dtype}")
        j = len(self.joint_ids)
        expect = {"joints": (n, j, 2), "annotated": (n, j), "visible": (n, j), "norm": (n,)}
        if self.occlusion is not None:
            expect["occlusion"] = (n, j)
        if self.origin is not None:
            expect["origin"] = (n, 3)
        for name, shape in expect.items():
            got = getattr(self, name).shape
            if got != shape:
                raise ValueError(f"PoseSet.{name} has shape {got}, expected {shape}")
        if self.metric not in ("pckh", "pck"):
            raise ValueError(f"PoseSet.metric must be 'pckh' or 'pck', got {self.metric!r}")
        self.joint_ids = tuple(int(i) for i in self.joint_ids)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def resolution(self) -> int:
        return int(self.images.shape[1])

    @property
    def num_joints(self) -> int:
        return len(self.joint_ids)

    def subset(self, rows: np.ndarray | slice) -> "PoseSet":
        """The people at ``rows`` (indices, mask or slice), sharing nothing mutable with ``self``."""
        kw = {}
        for f in fields(self):
            v = getattr(self, f.name)
            kw[f.name] = v[rows] if isinstance(v, np.ndarray) else v
        kw["meta"] = dict(self.meta)
        return PoseSet(**kw)

    def save(self, path: str | Path, *, jpeg_quality: int | None = None) -> None:
        """Write to ``path`` (``.npz``) atomically: a reader never sees a half-written file.

        With ``jpeg_quality`` (1-95) the crops are stored JPEG-compressed (one JPEG per person,
        4:2:0 chroma), about 10× smaller than raw pixels, so that a pack travels to a GPU
        machine; :meth:`load` decodes them. Everything else is stored exactly.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f.name: getattr(self, f.name) for f in fields(self) if isinstance(getattr(self, f.name), np.ndarray)}
        header = {"joint_ids": list(self.joint_ids), "metric": self.metric, "margin": self.margin, "meta": self.meta}
        if jpeg_quality is not None:
            arrays.pop("images")
            arrays["images_jpeg"], arrays["images_offsets"] = encode_jpegs(self.images, jpeg_quality)
            arrays["images_shape"] = np.asarray(self.images.shape, dtype=np.int64)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
        os.close(fd)
        try:
            np.savez(tmp, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), **arrays)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; a pack is meant to be shared
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: str | Path) -> "PoseSet":
        """Read a file written by :meth:`save` (raw or JPEG crops).

        ``FileNotFoundError`` if there is none; :class:`~lib.errors.DataFileError` naming the file
        if it is empty, truncated, damaged or not a PoseSet file.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"PoseSet file {path} not found")
        check_magic(path, ZIP_MAGIC, "PoseSet file (.npz archive)", "delete it and build it again")
        try:
            with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:  # f: closed even when np.load fails
                header = json.loads(bytes(z["header"]).decode())
                arrays = {k: z[k] for k in z.files if k != "header"}
            if not isinstance(header, dict) or set(header) != {"joint_ids", "metric", "margin", "meta"}:
                raise ValueError(f"its header is not a PoseSet header: {str(header)[:80]}")
            if "images_jpeg" in arrays:
                shape = tuple(int(v) for v in arrays.pop("images_shape"))
                arrays["images"] = decode_jpegs(arrays.pop("images_jpeg"), arrays.pop("images_offsets"), shape)
            return cls(**arrays, **header)
        except _READ_ERRORS as e:
            raise DataFileError(path, f"is not a readable PoseSet file, truncated or damaged ({describe(e)})",
                                "delete it and build it again") from None


def encode_jpegs(images: np.ndarray, quality: int) -> tuple[np.ndarray, np.ndarray]:
    """``N×R×R×3`` uint8 crops as concatenated JPEG bytes and ``N+1`` int64 offsets."""
    if not 1 <= quality <= 95:
        raise ValueError(f"jpeg_quality must be in 1..95 (PIL's useful range), got {quality}")
    chunks, offsets = [], [0]
    for img in images:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=int(quality), subsampling="4:2:0")
        chunks.append(buf.getvalue())
        offsets.append(offsets[-1] + len(chunks[-1]))
    data = np.frombuffer(b"".join(chunks), dtype=np.uint8) if chunks else np.zeros(0, dtype=np.uint8)
    return data, np.asarray(offsets, dtype=np.int64)


def decode_jpegs(data: np.ndarray, offsets: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`encode_jpegs` into a preallocated ``shape`` uint8 array."""
    out = np.empty(shape, dtype=np.uint8)
    raw = data.tobytes()
    if len(offsets) != shape[0] + 1 or offsets[-1] != len(raw):
        raise ValueError(f"{len(offsets)} JPEG offsets ending at {offsets[-1] if len(offsets) else None} for "
                         f"{shape[0]} images in {len(raw)} bytes")
    for i in range(shape[0]):
        img = Image.open(io.BytesIO(raw[offsets[i]:offsets[i + 1]]))
        out[i] = np.asarray(img.convert("RGB"))
    return out
