"""Every experiment of both studies as one frozen dataclass config, at the size a profile sets.

An :class:`Experiment` holds everything that determines a result (model, data, schedule, seed,
which stacks predict which joints and are supervised, what initialises and what is frozen); a
stable hash of it (:func:`config_hash`) names its record in ``results/``. How a run is executed
(device, precision, compilation, progress bars) is not part of it: see ``lib.engine.RunOptions``.
:func:`make_experiment` builds one by name, profile, dataset (:data:`DATASETS`, defined in
:mod:`lib.data`) and seed; :func:`sweep` lists a profile's experiments × seeds and
:func:`priority_plan` puts them in the order they should run (the ``cpu`` profile's
:data:`CPU_PLAN`).

Names (:func:`experiment_names`):

* PBN (Tang & Wu 2019, Sec. 4.3, Fig. 5, Tables 6-7): ``pbn/mi5-d{D}-w{W}`` for D ∈ {1, 2, 3},
  W ∈ {32, 64, 128, 256} (Fig. 5(a)-(b)); ``pbn/body-d1-w{W}`` (Fig. 5(d)); ``pbn/linear`` and
  ``pbn/deep`` (Fig. 5(c)); ``pbn/groups{2,8,16}`` (Fig. 5(e), with ``mi5-d1-w64`` as k = 5);
  ``pbn/overlap`` (Fig. 5(f)); ``pbn/fusion-specific`` (Sec. 4.3, feature fusion);
  ``pbn/no-ankles`` (negative transfer: a plain hourglass without the ankles' heatmaps, compared
  with ``pbn/linear`` on upper and lower body); ``pbn/large-{mi5,deep,fusion-specific}`` (the
  eight-stack comparisons of Table 6-7 and the fusion paragraph). Unless named, D = 1, W = 64,
  five MI groups (Fig. 5 caption).
* KPTransfer (Vats et al. 2019, Sec. 3.2, Table 1, Fig. 1): ``kpt/{a,b,c,d}-{source,transfer,
  frozen,random}``. ``source``: a k-stack network on S1; ``transfer``: 2k stacks, the first k
  initialised from the source and supervised on S1, the last k on S2, all trained; ``frozen``:
  the same with the first k frozen and only the last k supervised; ``random``: 2k stacks from
  random weights, all supervised on S2. All are evaluated on S2 (the source on S1) with pelvis
  and thorax out of the average (Sec. 4). On LSP, which has no pelvis or thorax, the splits are
  restricted to LSP's joints, so S1 of (a) and S2 of (b)-(d) have 6 joints instead of 8.

Profiles (:data:`PROFILES`): ``tiny`` (the engine's unit tests: a run in about a second, no
study), ``smoke`` (CPU, every experiment in seconds, a whole study in minutes; exercises every
code path, measures nothing), ``cpu`` (real, small-scale answers on two CPU cores: 2 stacks,
C = 128, 64×64 input, 115,200 training images a run; :data:`CPU_PROFILE_NOTES`, run in the
order of :data:`CPU_PLAN`), ``cpu-128`` (the probe that sized ``cpu``: the same network at
128×128), ``book`` (GPU, sized by :func:`lib.runtime.book_budget`), ``paper`` (the
papers' full recipes: 8-stack benchmark models aside, 3-stack ablations at 256×256, batch 16,
250 epochs, lr 2.5e-4 × 0.1 at epochs 170 and 220; KPTransfer's 8,000-iteration epochs with
÷5 on plateaus and early stopping after 10 epochs).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, dataclass, fields, is_dataclass, replace
from typing import Any

from lib import joints as J
from lib.data import DATASET_JOINTS
from lib.models import ModelConfig

#: Dataset name → the MPII ids of its joints; defined once, in :mod:`lib.data`. (Augmentation names,
#: :attr:`DataConfig.augment`, are the keys of :data:`lib.data.augment.AUGMENTS`.)
DATASETS: dict[str, tuple[int, ...]] = DATASET_JOINTS


@dataclass(frozen=True)
class DataConfig:
    """Which data, at which crop size, how many people, how augmented (``lib.data``)."""

    dataset: str = "synthetic"
    resolution: int = 128
    margin: float = 1.25
    train_limit: int | None = None
    val_limit: int | None = None
    augment: str = "pbn"
    sigma: float = 1.0


@dataclass(frozen=True)
class Schedule:
    """Optimisation: RMSProp, batch size, epochs of ``iters_per_epoch`` iterations, LR schedule.

    ``kind="step"``: PBN Sec. 4.1, lr × ``gamma`` at each epoch of ``milestones``, the last
    epoch's model is the result. ``kind="plateau"``: KPTransfer Sec. 3.3, lr × ``plateau_factor``
    (÷5) after ``plateau_patience`` epochs without a better validation score, stop after
    ``early_stop`` epochs without one; the best epoch's model is the result. (KPTransfer gives no
    patience for the LR drop; it must be below ``early_stop`` to ever act.)
    """

    kind: str = "step"
    lr: float = 2.5e-4
    batch_size: int = 16
    epochs: int = 250
    iters_per_epoch: int = 1000
    milestones: tuple[int, ...] = (170, 220)
    gamma: float = 0.1
    plateau_factor: float = 0.2
    plateau_patience: int = 5
    early_stop: int = 0


@dataclass(frozen=True)
class Experiment:
    """One training run, completely: what a record's hash covers.

    Attributes:
        name: experiment name (``pbn/...``, ``kpt/...``; see module docstring).
        profile: the profile it was built under (``smoke``, ``book``, ``paper``, or a test's).
        seed: seeds weights, batch order and augmentation.
        stack_targets: MPII joint ids each stack predicts, one tuple per stack; the last stack's
            are the prediction and what is evaluated.
        loss_stacks: stacks (0-based) whose heatmaps enter the loss.
        select_metric: the ``lib.metrics.pck_table`` column that drives the plateau schedule and
            picks the best epoch (PBN Sec. 4.3: ``Hard``, the ten hard joints; KPTransfer: ``Mean``).
        freeze_stacks: stem and first stacks frozen (``lib.models.freeze_stacks``).
        init: the experiment whose final weights initialise the first ``init_stacks`` stacks.
        flip_test: average with the mirrored image at evaluation (PBN's ablations use none).
    """

    name: str
    profile: str
    seed: int
    model: ModelConfig
    data: DataConfig
    schedule: Schedule
    stack_targets: tuple[tuple[int, ...], ...]
    loss_stacks: tuple[int, ...]
    select_metric: str = "Mean"
    freeze_stacks: int = 0
    init: Experiment | None = None
    init_stacks: int = 0
    flip_test: bool = False

    @property
    def eval_joints(self) -> tuple[int, ...]:
        """MPII ids of the predicted (and evaluated) joints: the last stack's targets."""
        return self.stack_targets[-1]


@dataclass(frozen=True)
class Profile:
    """Sizes shared by every experiment of a sweep. ``device``: where it is meant to run."""

    name: str
    dataset: str
    device: str
    input_size: int
    resolution: int
    channels: int
    pbn_stacks: int
    pbn_large_stacks: int
    kpt_stacks: int
    step: Schedule
    plateau: Schedule
    seeds: tuple[int, ...]
    train_limit: int | None = None
    val_limit: int | None = None
    width_scale: float = 1.0

    def branch_width(self, width: int) -> int:
        """A PBN branch's W under this profile: W × ``width_scale``, even, at least 2.

        Profiles with a narrow trunk (``smoke``, ``tiny``) scale W with C/256 so that the D×W grid
        keeps the paper's branch-to-trunk ratios and stays cheap; ``book`` and ``paper`` use W as named.
        """
        return max(2, 2 * round(width * self.width_scale / 2))


#: The ``cpu`` profile's step schedule: 24 epochs × 300 iterations × 16 = 115,200 training images
#: (12.8 passes over LSP Extended's 9,000 training people), lr × 0.1 at epochs 17 and 22 (the
#: paper's drops at 68% and 88% of its 250 epochs).
_CPU_STEP = Schedule(kind="step", lr=1e-3, batch_size=16, epochs=24, iters_per_epoch=300, milestones=(17, 22))
#: KPTransfer's plateau schedule at the ``cpu`` scale: ÷5 after 2 epochs without a better Mean,
#: stop after 4, at most 24 epochs of the same size as the step schedule's.
_CPU_PLATEAU = Schedule(kind="plateau", lr=1e-3, batch_size=16, epochs=24, iters_per_epoch=300, milestones=(),
                        plateau_patience=2, early_stop=4)

_SMOKE_STEP = Schedule(kind="step", lr=1e-3, batch_size=8, epochs=3, iters_per_epoch=5, milestones=(2,))
_SMOKE_PLATEAU = Schedule(kind="plateau", lr=1e-3, batch_size=8, epochs=4, iters_per_epoch=5,
                          milestones=(), plateau_patience=1, early_stop=2)

PROFILES: dict[str, Profile] = {
    "tiny": Profile(name="tiny", dataset="synthetic", device="cpu", input_size=64, resolution=64, channels=16,
                    pbn_stacks=2, pbn_large_stacks=2, kpt_stacks=1,
                    step=Schedule(kind="step", lr=1e-3, batch_size=4, epochs=2, iters_per_epoch=3, milestones=(1,)),
                    plateau=Schedule(kind="plateau", lr=1e-3, batch_size=4, epochs=3, iters_per_epoch=2,
                                     milestones=(), plateau_patience=1, early_stop=2),
                    seeds=(0,), train_limit=32, val_limit=16, width_scale=16 / 256),
    "smoke": Profile(name="smoke", dataset="synthetic", device="cpu", input_size=64, resolution=128, channels=32,
                     pbn_stacks=2, pbn_large_stacks=3, kpt_stacks=1, step=_SMOKE_STEP, plateau=_SMOKE_PLATEAU,
                     seeds=(0, 1), train_limit=200, val_limit=64, width_scale=32 / 256),
    # The cpu profile: real answers at a small scale on any 2-core machine (see ``CPU_PROFILE_NOTES``).
    "cpu": Profile(name="cpu", dataset="lspet", device="cpu", input_size=64, resolution=80, channels=128,
                   pbn_stacks=2, pbn_large_stacks=4, kpt_stacks=1, step=_CPU_STEP, plateau=_CPU_PLATEAU,
                   seeds=(0, 1, 2), train_limit=9000, val_limit=1000, width_scale=128 / 256),
    # A probe that sized the cpu profile: the same network at 128×128 input (4× the MACs per image),
    # for about the same minutes (a quarter of the images); chapter "Training on a CPU" compares them.
    "cpu-128": Profile(name="cpu-128", dataset="lspet", device="cpu", input_size=128, resolution=160, channels=128,
                       pbn_stacks=2, pbn_large_stacks=4, kpt_stacks=1,
                       step=replace(_CPU_STEP, epochs=7, milestones=(5, 6)), plateau=_CPU_PLATEAU,
                       seeds=(0,), train_limit=9000, val_limit=1000, width_scale=128 / 256),
    "book": Profile(name="book", dataset="lspet", device="cuda", input_size=128, resolution=128, channels=256,
                    pbn_stacks=3, pbn_large_stacks=8, kpt_stacks=2,
                    step=Schedule(kind="step", epochs=16, iters_per_epoch=400, milestones=(11, 14)),
                    plateau=Schedule(kind="plateau", epochs=16, iters_per_epoch=400, milestones=(),
                                     plateau_patience=2, early_stop=4),
                    seeds=(0, 1, 2)),
    "paper": Profile(name="paper", dataset="mpii", device="cuda", input_size=256, resolution=320, channels=256,
                     pbn_stacks=3, pbn_large_stacks=8, kpt_stacks=2,
                     step=Schedule(kind="step", epochs=250, iters_per_epoch=1391, milestones=(170, 220)),
                     plateau=Schedule(kind="plateau", epochs=250, iters_per_epoch=8000, milestones=(),
                                      plateau_patience=5, early_stop=10),
                     seeds=(0, 1, 2)),
}

#: Why the ``cpu`` profile is what it is: every departure from the papers, and its reason.
CPU_PROFILE_NOTES = """\
The `cpu` profile answers the papers' questions at a scale that two CPU cores train in under an
hour per run with bf16 autocast and channels-last (`lib.hardware`), and in up to about two and a half hours
in fp32 on CPUs without native bf16 (two runs side by side, one core each), on LSP Extended's
real photos (9,000 training, 1,000 validation people; PCK@0.2) and on `synthetic-mpii` (MPII's
training poses rendered with self- and other-occlusion labels; 9,000 training and 1,000
validation people; PCKh@0.5). Departures from the papers, each for speed on two cores:

* input 64×64 (papers: 256×256), so heatmaps are 16×16 (papers: 64×64), sigma 1 heatmap pixel
  as in the papers; crops are cut at 80 px (1.25 × the input) so augmentation has real pixels;
* 2 stacks (papers: 8 for the benchmark rows, 3 for the ablations), the fewest that keep
  stacking, feature fusion and intermediate supervision; KPTransfer k = 1 (source 1 stack,
  transfer / frozen / random 2 stacks; paper: k = 2, a two-stack source and four-stack networks);
* trunk width C = 128 (papers: 256), PBN branch widths scaled with it (W × 128/256: the
  default W = 64 becomes 32) so branch-to-trunk ratios stay the papers';
* RMSProp as in both papers but lr 1e-3 (papers: 2.5e-4): the schedule is 115,200 training
  images instead of the papers' ~5.6 million, and a larger step learns faster in so few;
  PBN's step schedule ×0.1 at 71% and 92% of the run (paper: 68% and 88%); KPTransfer's
  ÷5 plateau schedule with patience 2 and early stopping after 4 epochs (paper: 10) of 4,800
  images (paper: 8,000 iterations);
* single-scale testing without flip (the PBN ablations' protocol, Sec. 4.3).
"""

#: The order in which ``python -m lib.train --profile cpu --all`` trains, most needed first:
#: (dataset, experiments, seeds) groups, each group seed by seed. The first three groups are
#: done (PBN's main comparison on LSP Extended, the occlusion claim on synthetic-mpii,
#: KPTransfer's abstract splits c and d); then issue 32's order: seeds 3-5 of the central
#: comparison on both datasets (seed 3 on both before seed 4, so the four models whose weights
#: ship come first), then overlap, fusion and negative transfer, then the number of
#: groups, each step's first two new seeds before its last; then depth / width and KPTransfer's
#: splits a and b. The order decides nothing but what trains first (config hashes ignore it).
_CENTRAL = ("pbn/deep", "pbn/mi5-d1-w64")
_ABLATIONS = ("pbn/overlap", "pbn/fusion-specific", "pbn/no-ankles")
_GROUP_COUNTS = ("pbn/groups2", "pbn/groups8", "pbn/groups16")
CPU_PLAN: tuple[tuple[str, tuple[str, ...], tuple[int, ...]], ...] = (
    ("lspet", ("pbn/linear", "pbn/deep", "pbn/mi5-d1-w64", "pbn/body-d1-w64"), (0, 1, 2)),
    ("synthetic-mpii", ("pbn/linear", "pbn/deep", "pbn/mi5-d1-w64"), (0, 1, 2)),
    ("lspet", tuple(f"kpt/{s}-{r}" for s in "cd" for r in ("source", "transfer", "frozen", "random")), (0, 1, 2)),
    ("lspet", _CENTRAL, (3,)),
    ("synthetic-mpii", _CENTRAL, (3,)),
    ("lspet", _CENTRAL, (4,)),
    ("synthetic-mpii", _CENTRAL, (4,)),
    ("lspet", _CENTRAL, (5,)),
    ("synthetic-mpii", _CENTRAL, (5,)),
    ("lspet", _ABLATIONS, (0, 1)),
    ("lspet", _ABLATIONS, (2,)),
    ("lspet", _GROUP_COUNTS, (0, 1)),
    ("lspet", _GROUP_COUNTS, (2,)),
    ("lspet", ("pbn/mi5-d2-w64", "pbn/mi5-d1-w32", "pbn/mi5-d1-w128"), (0, 1, 2)),
    ("lspet", tuple(f"kpt/{s}-{r}" for s in "ab" for r in ("source", "transfer", "frozen", "random")), (0, 1, 2)),
)


def priority_plan(profile: str | Profile, experiments: tuple[str, ...] | None = None,
                  seeds: tuple[int, ...] | None = None) -> list[Experiment]:
    """A profile's sweep in the order it should run: the ``cpu`` plan, else :func:`sweep`'s order.

    ``experiments`` / ``seeds`` keep only those names / seeds (in the plan's order).
    """
    p = get_profile(profile) if isinstance(profile, str) else profile
    if p.name != "cpu":
        exps = sweep(p, None, seeds)
    else:
        exps = [make_experiment(n, p, dataset, s) for dataset, names, plan_seeds in CPU_PLAN
                for s in plan_seeds if seeds is None or s in seeds for n in names]
    if experiments is not None:
        unknown = sorted(set(experiments) - set(experiment_names()))
        if unknown:
            raise ValueError(f"unknown experiments {unknown}; `python -m lib.train --list` lists them")
        exps = [e for e in exps if e.name in experiments]
    return exps


# ---------------------------------------------------------------------------------------------
# Joint groups


def groups_for(name: str, joint_ids: tuple[int, ...]) -> J.Groups:
    """Named MPII groups (``lib.joints.NAMED_GROUPS``: body, mi2, mi5, mi5_overlap, mi6, mi8, mi16)
    as indices into ``joint_ids``, the joints a model predicts (groups emptied by the subset vanish).
    """
    out = J.restrict_groups(J.named_groups(name), joint_ids)
    return J.validate_groups(out, len(joint_ids))


# ---------------------------------------------------------------------------------------------
# The experiments

_GRID = [("mi5", d, w) for d in (1, 2, 3) for w in (32, 64, 128, 256)] + [("body", 1, w) for w in (32, 64, 128, 256)]
PBN_VARIANTS: dict[str, dict[str, Any]] = {
    **{f"pbn/{g}-d{d}-w{w}": {"groups": g, "depth": d, "width": w} for g, d, w in _GRID},
    "pbn/linear": {"head": "linear"},
    "pbn/deep": {"head": "deep"},
    "pbn/groups2": {"groups": "mi2"},
    "pbn/groups8": {"groups": "mi8"},
    "pbn/groups16": {"groups": "mi16"},
    "pbn/overlap": {"groups": "mi5_overlap"},
    "pbn/fusion-specific": {"fusion": "specific"},
    "pbn/no-ankles": {"head": "linear", "drop": J.ANKLES},
    "pbn/large-mi5": {"large": True},
    "pbn/large-deep": {"head": "deep", "large": True},
    "pbn/large-fusion-specific": {"fusion": "specific", "large": True},
}
KPT_ROLES = ("source", "transfer", "frozen", "random")
KPT_NAMES = tuple(f"kpt/{s}-{r}" for s in J.KPTRANSFER_SPLITS for r in KPT_ROLES)


def experiment_names() -> list[str]:
    """Every experiment, PBN then KPTransfer (sources before the runs that depend on them)."""
    return [*PBN_VARIANTS, *KPT_NAMES]


def _data(profile: Profile, dataset: str, augment: str) -> DataConfig:
    return DataConfig(dataset=dataset, resolution=profile.resolution, train_limit=profile.train_limit,
                      val_limit=profile.val_limit, augment=augment)


def _pbn(name: str, p: Profile, dataset: str, seed: int, *, head: str = "pbn", groups: str = "mi5",
         depth: int = 1, width: int = 64, fusion: str = "shared", drop: tuple[int, ...] = (),
         large: bool = False) -> Experiment:
    ids = tuple(j for j in DATASETS[dataset] if j not in drop)
    stacks = p.pbn_large_stacks if large else p.pbn_stacks
    model = ModelConfig(num_joints=len(ids), stacks=stacks, channels=p.channels, head=head,
                        groups=groups_for(groups, ids) if head == "pbn" else (), depth=depth,
                        width=p.branch_width(width),
                        fusion=fusion, stem="pbn", input_size=p.input_size)
    return Experiment(name=name, profile=p.name, seed=seed, model=model, data=_data(p, dataset, "pbn"),
                      schedule=p.step, stack_targets=(ids,) * stacks, loss_stacks=tuple(range(stacks)),
                      select_metric="Hard")


def kpt_subsets(split: str, dataset: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """KPTransfer Table 1's (S1, S2) for ``split``, restricted to ``dataset``'s joints, sorted."""
    if split not in J.KPTRANSFER_SPLITS:
        raise ValueError(f"unknown KPTransfer split {split!r}; choose one of {sorted(J.KPTRANSFER_SPLITS)}")
    have = set(DATASETS[dataset])
    s1, s2 = J.KPTRANSFER_SPLITS[split]
    return tuple(sorted(j for j in s1 if j in have)), tuple(sorted(j for j in s2 if j in have))


def _kpt(name: str, p: Profile, dataset: str, seed: int) -> Experiment:
    split, role = name.removeprefix("kpt/").split("-")
    s1, s2 = kpt_subsets(split, dataset)
    k = p.kpt_stacks
    data, sched = _data(p, dataset, "kptransfer"), p.plateau
    if role == "source":
        model = ModelConfig(num_joints=len(s1), stacks=k, channels=p.channels, head="linear", stem="newell",
                            input_size=p.input_size)
        return Experiment(name=name, profile=p.name, seed=seed, model=model, data=data, schedule=sched,
                          stack_targets=(s1,) * k, loss_stacks=tuple(range(k)))
    if role == "random":
        model = ModelConfig(num_joints=len(s2), stacks=2 * k, channels=p.channels, head="linear", stem="newell",
                            input_size=p.input_size)
        return Experiment(name=name, profile=p.name, seed=seed, model=model, data=data, schedule=sched,
                          stack_targets=(s2,) * (2 * k), loss_stacks=tuple(range(2 * k)))
    model = ModelConfig(num_joints=len(s2), stacks=2 * k, channels=p.channels, head="linear", stem="newell",
                        input_size=p.input_size, stack_joints=(len(s1),) * k + (len(s2),) * k)
    frozen = role == "frozen"
    return Experiment(name=name, profile=p.name, seed=seed, model=model, data=data, schedule=sched,
                      stack_targets=(s1,) * k + (s2,) * k,
                      loss_stacks=tuple(range(k, 2 * k)) if frozen else tuple(range(2 * k)),
                      freeze_stacks=k if frozen else 0, init=_kpt(f"kpt/{split}-source", p, dataset, seed),
                      init_stacks=k)


def make_experiment(name: str, profile: str | Profile = "smoke", dataset: str | None = None,
                    seed: int = 0) -> Experiment:
    """The experiment ``name`` under ``profile`` on ``dataset`` (the profile's default if None)."""
    p = get_profile(profile) if isinstance(profile, str) else profile
    dataset = dataset or p.dataset
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {sorted(DATASETS)}")
    if name in PBN_VARIANTS:
        return _pbn(name, p, dataset, seed, **PBN_VARIANTS[name])
    if name in KPT_NAMES:
        return _kpt(name, p, dataset, seed)
    raise ValueError(f"unknown experiment {name!r}; `python -m lib.train --list` lists them")


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}") from None


def sweep(profile: str | Profile, dataset: str | None = None, seeds: tuple[int, ...] | None = None) -> list[Experiment]:
    """Every experiment × seed of a profile, sources before dependants."""
    p = get_profile(profile) if isinstance(profile, str) else profile
    return [make_experiment(n, p, dataset, s) for s in (seeds if seeds is not None else p.seeds)
            for n in experiment_names()]


# ---------------------------------------------------------------------------------------------
# Hashing


def canonical(x: Any) -> Any:
    """JSON-ready form of a config; dataclass fields equal to their default are left out.

    Leaving defaults out keeps hashes stable when a config class gains a field with a default
    that reproduces the old behaviour. Tuples become lists, so a config read back from a JSON
    record hashes the same.
    """
    if is_dataclass(x) and not isinstance(x, type):
        out = {}
        for f in fields(x):
            v = getattr(x, f.name)
            default = f.default if f.default is not MISSING else (
                f.default_factory() if f.default_factory is not MISSING else MISSING)
            if default is MISSING or canonical(v) != canonical(default):
                out[f.name] = canonical(v)
        return out
    if isinstance(x, (list, tuple)):
        return [canonical(v) for v in x]
    if isinstance(x, dict):
        return {str(k): canonical(v) for k, v in x.items()}
    return x


def config_hash(exp: Experiment) -> str:
    """SHA-256 (hex) of the canonical JSON of ``exp``: equal configs, equal hashes, across runs."""
    text = json.dumps(canonical(exp), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()

