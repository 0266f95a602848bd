"""Datasets as :class:`PoseSet` person crops: MPII, LSP Extended and the synthetic renderer.

:func:`load_poseset` is the one entry point the studies use. Real datasets are read from the
data root (``$POSE_DATA``, :func:`lib.data.paths.data_root`), cut into person crops once and
cached as a JPEG-compressed pack (:mod:`lib.data.pack`); later calls, on this machine or on a
GPU machine the pack was carried to, read the pack in seconds. A pack is tied to the annotation
files it was cut from: when the data root's files differ, it is rebuilt. Augmentation and targets
are built on the training device by :mod:`lib.data.augment`.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

from lib.data import pack
from lib.data.paths import data_root as resolve_data_root
from lib.data.paths import default_cache_dir
from lib.data.poseset import PoseSet
from lib.joints import LSP_TO_MPII, NUM_MPII_JOINTS

if TYPE_CHECKING:
    from lib.data.synthetic import SyntheticConfig

#: Every dataset by name, with the MPII index of each of its joints (its :attr:`PoseSet.joint_ids`):
#: the one list of dataset names, which ``lib.experiments`` builds its configs from.
DATASET_JOINTS: dict[str, tuple[int, ...]] = {
    "synthetic": tuple(range(NUM_MPII_JOINTS)),
    "synthetic-mpii": tuple(range(NUM_MPII_JOINTS)),
    "lspet": LSP_TO_MPII,
    "mpii": tuple(range(NUM_MPII_JOINTS)),
}
DATASETS = tuple(DATASET_JOINTS)
#: Synthetic datasets and their pose sources: the built-in kinematic generator, or the real MPII
#: poses of the same split (a real pose distribution, for the occlusion study of PBN Fig. 7).
SYNTHETIC_POSES = {"synthetic": "generator", "synthetic-mpii": "mpii"}
SPLITS = ("train", "val")
DEFAULT_RESOLUTION, DEFAULT_MARGIN = 128, 1.25
#: People rendered per split when no SyntheticConfig is given.
DEFAULT_SYNTHETIC_NUM = {"train": 2000, "val": 500}
#: The validation split of a synthetic config renders with ``seed + VAL_SEED_OFFSET``.
VAL_SEED_OFFSET = 1_000_003

__all__ = ["DATASETS", "DATASET_JOINTS", "SPLITS", "PoseSet", "load_poseset", "synthetic_config_for"]


def load_poseset(
    name: str,
    split: str,
    *,
    data_root: str | Path | None = None,
    resolution: int | None = None,
    margin: float | None = None,
    cache_dir: str | Path | None = None,
    limit: int | None = None,
    synthetic: "SyntheticConfig | None" = None,
    rebuild: bool = False,
    require_images: bool = True,
    images_dir: str | Path | None = None,
) -> PoseSet:
    """The ``split`` (``"train"``/``"val"``) people of dataset ``name`` as person crops.

    Args:
        name: ``"synthetic"`` (generated poses), ``"synthetic-mpii"`` (MPII's poses of the
            split rendered synthetically; needs the MPII annotations), ``"lspet"`` (LSP Extended; ``"val"`` = its last 1,000 images) or
            ``"mpii"`` (the usual 22,246 / 2,958 split).
        data_root: the datasets' folder; default ``$POSE_DATA``. A cached pack is used only if it
            was built from this root's annotation files (same content and photo folder); with no
            data root at all (or a root without the dataset's folder), a pack with matching
            parameters is used as it is. Not needed for synthetic data with generated poses.
        resolution, margin: crop side in pixels and crop side / person-box side; default 128
            and 1.25, or the synthetic config's own.
        cache_dir: where packs live; default ``<repo>/.cache/packs``.
        limit: keep the first ``limit`` people of the split (a cached full pack serves this too).
        synthetic: the renderer's configuration for ``"synthetic"`` (train; validation renders
            the same configuration with ``seed + VAL_SEED_OFFSET``); default
            ``SyntheticConfig(num=limit or DEFAULT_SYNTHETIC_NUM[split])``.
        rebuild: ignore a cached pack and build it again. A cached pack that is unreadable,
            stale or built with other parameters is rebuilt anyway, with a warning.
        require_images: when False, people whose photo is missing are dropped (with a warning
            giving the count) instead of raising; for partial MPII image folders.
        images_dir: the photos' folder; default ``<root>/mpii/images`` or ``<root>/lspet/images``.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {DATASETS}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    if synthetic is not None and name not in SYNTHETIC_POSES:
        raise ValueError(f"a SyntheticConfig was given for dataset {name!r}; it only applies to {sorted(SYNTHETIC_POSES)}")
    synth_meta = None
    if name in SYNTHETIC_POSES:
        synthetic = synthetic_config_for(split, synthetic, resolution, margin, limit, poses=SYNTHETIC_POSES[name])
        resolution, margin = synthetic.resolution, synthetic.margin
        synth_meta = json.loads(json.dumps(asdict(synthetic), default=str))
    resolution = DEFAULT_RESOLUTION if resolution is None else int(resolution)
    margin = DEFAULT_MARGIN if margin is None else float(margin)
    if resolution < 16 or margin < 1:
        raise ValueError(f"need resolution >= 16 and margin >= 1, got {resolution} and {margin}")

    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    spec = pack.PackSpec(name, split, resolution, margin, limit, require_images or name in SYNTHETIC_POSES, synthetic=synth_meta)
    root = _available_root(data_root)
    photos = Path(images_dir) if images_dir is not None else None
    sources = pack.pack_sources(name, split, root, photos)
    not_used: list[str] = []  # why cached packs were passed over: warned once the rebuild succeeded
    found = None if rebuild else _read_cached(cache, spec, sources, not_used)
    if found is not None:
        return found
    # One builder per pack: a parallel sweep's other processes wait here, then read what it wrote.
    with pack.build_lock(cache / spec.file_name()):
        found = None if rebuild else _read_cached(cache, spec, sources, [])
        return found if found is not None else _build(name, spec, cache, sources, synthetic, data_root, photos,
                                                       not_used)


def _read_cached(cache: Path, spec: "pack.PackSpec", sources: "pack.PackSources | None",
                 not_used: list[str]) -> PoseSet | None:
    """The cached pack of ``spec`` (or the first ``spec.limit`` people of the full pack), else None
    with the reasons appended to ``not_used``."""
    found = None
    if spec.limit is not None:  # a cached full pack serves any limit
        full = replace(spec, limit=None)
        found, why = pack.read_pack(cache / full.file_name(), full, sources)
        not_used += [why] if why else []
        if found is not None:
            found = found.subset(slice(0, spec.limit))
            if "images" in found.meta:
                found.meta["images"] = found.meta["images"][:spec.limit]
    if found is None:
        found, why = pack.read_pack(cache / spec.file_name(), spec, sources)
        not_used += [why] if why else []
    if found is not None and found.meta.get("dropped_missing_images"):
        warnings.warn(f"{spec.dataset} {spec.split}: the cached pack lacks {found.meta['dropped_missing_images']} "
                      "people whose images were missing when it was built", stacklevel=3)
    return found


def _build(name: str, spec: "pack.PackSpec", cache: Path, sources: "pack.PackSources | None",
           synthetic: "SyntheticConfig | None", data_root: str | Path | None, photos: Path | None,
           not_used: list[str]) -> PoseSet:
    """Build the pack of ``spec`` (render or crop), write it to ``cache`` and return what it holds."""
    limit = spec.limit
    if name in SYNTHETIC_POSES:
        from lib.data.synthetic import render_poseset  # lazy: synthetic imports lib.data itself

        ps = render_poseset(synthetic, resolve_data_root(data_root) if data_root is not None else None)
        if limit is not None:
            ps = ps.subset(slice(0, limit))
    else:
        root = resolve_data_root(data_root)  # the error naming POSE_DATA when there is none
        build = pack.build_mpii if name == "mpii" else pack.build_lspet
        ps = build(root, spec, photos)
    # Fingerprints taken before the build: a file edited meanwhile makes the pack stale, not wrongly fresh.
    if sources is None:
        raise RuntimeError(f"{name} was built without a {name} folder under the data root; cannot record its sources")
    pack.write_pack(ps, cache / spec.file_name(), spec, sources)
    for why in not_used:
        warnings.warn(f"{why}; built {cache / spec.file_name()} afresh", stacklevel=3)
    # Return what the pack holds (JPEG-decoded crops), so a first run sees the same pixels as
    # every later run that reads the pack.
    written, why = pack.read_pack(cache / spec.file_name(), spec, sources)
    if written is None:
        raise RuntimeError(f"the pack just written to {cache / spec.file_name()} cannot be used: {why}")
    return written


def _available_root(data_root: str | Path | None) -> Path | None:
    """The data root if one is given or set and is a folder, else None (no sources to check)."""
    try:
        return resolve_data_root(data_root)
    except FileNotFoundError:
        return None


def synthetic_config_for(split: str, cfg: "SyntheticConfig | None", resolution: int | None,
                         margin: float | None, limit: int | None, poses: str = "generator") -> "SyntheticConfig":
    """The renderer configuration of ``split``: ``cfg`` (or a default), re-seeded for validation.

    An explicit ``resolution``/``margin`` must agree with an explicit ``cfg``: two different
    answers to one question are an error, not a silent choice.
    """
    from lib.data.synthetic import SyntheticConfig  # lazy: synthetic imports lib.data itself

    if cfg is None:
        cfg = SyntheticConfig(
            num=limit or DEFAULT_SYNTHETIC_NUM[split],
            resolution=DEFAULT_RESOLUTION if resolution is None else int(resolution),
            margin=DEFAULT_MARGIN if margin is None else float(margin),
            poses=poses,
            pose_split=split if poses == "mpii" else "all",
        )
    for arg, value in (("resolution", resolution), ("margin", margin)):
        if value is not None and getattr(cfg, arg) != value:
            raise ValueError(
                f"{arg}={value} disagrees with the SyntheticConfig's {arg}={getattr(cfg, arg)}; "
                f"set it in the config and leave {arg} out"
            )
    return replace(cfg, seed=cfg.seed + VAL_SEED_OFFSET) if split == "val" else cfg
