"""Experiments as configurations (lib.experiments), hashing, and sweep slicing (lib.runner)."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from lib import joints as J
from lib.experiments import (DATASETS, PROFILES, DataConfig, canonical, config_hash, experiment_names,
                             groups_for, kpt_subsets, make_experiment, sweep)
from lib.model_cost import count_macs
from lib.models import build_model, freeze_stacks, trainable_parameters, validate_config
from lib.runner import chunk, sweep_units
from lib.runtime import model_macs

ROOT = Path(__file__).resolve().parents[1]


def test_every_experiment_builds_under_every_profile_and_dataset():
    names = experiment_names()
    assert len(names) == len(set(names)) == 43
    for must in ("pbn/mi5-d1-w64", "pbn/body-d1-w64", "pbn/mi5-d3-w256", "pbn/linear", "pbn/deep", "pbn/groups2",
                 "pbn/groups16", "pbn/overlap", "pbn/fusion-specific", "pbn/no-ankles", "kpt/d-frozen"):
        assert must in names
    for profile in PROFILES:
        for dataset in DATASETS:
            for name in names:
                e = make_experiment(name, profile, dataset)
                validate_config(e.model)
                assert len(e.stack_targets) == e.model.stacks
                assert [len(t) for t in e.stack_targets] == list(e.model.joints_per_stack)
                assert set(e.eval_joints) <= set(DATASETS[dataset])


def test_unknown_names_fail_with_a_hint():
    with pytest.raises(ValueError, match="--list"):
        make_experiment("pbn/nope")
    with pytest.raises(ValueError, match="choose one of"):
        make_experiment("pbn/linear", "huge")
    with pytest.raises(ValueError, match="unknown dataset"):
        make_experiment("pbn/linear", "smoke", "coco")


def test_paper_profile_is_the_papers_recipe():
    e = make_experiment("pbn/large-mi5", "paper")
    assert (e.model.stacks, e.model.input_size, e.model.channels, e.model.depth, e.model.width) == (8, 256, 256, 1, 64)
    s = e.schedule
    assert (s.batch_size, s.epochs, s.lr, s.milestones, s.gamma) == (16, 250, 2.5e-4, (170, 220), 0.1)
    k = make_experiment("kpt/a-random", "paper").schedule
    assert (k.kind, k.plateau_factor, k.early_stop, k.iters_per_epoch) == ("plateau", 0.2, 10, 8000)
    assert make_experiment("pbn/mi5-d1-w64", "paper").model.stacks == 3  # Fig. 5 ablations use 3 stacks


def test_config_hash_is_stable_and_sensitive():
    e = make_experiment("pbn/mi5-d1-w64", "smoke", seed=0)
    assert config_hash(e) == config_hash(make_experiment("pbn/mi5-d1-w64", "smoke", seed=0))
    others = [make_experiment("pbn/mi5-d1-w64", "smoke", seed=1), make_experiment("pbn/mi5-d1-w128", "smoke"),
              make_experiment("pbn/mi5-d1-w64", "smoke", "lspet"), make_experiment("pbn/mi5-d1-w64", "tiny"),
              replace(e, schedule=replace(e.schedule, lr=1e-4))]
    assert len({config_hash(x) for x in [e, *others]}) == 6
    # a dataclass field at its default is left out, so adding such a field keeps old hashes
    assert canonical(DataConfig()) == {} and canonical(DataConfig(dataset="mpii")) == {"dataset": "mpii"}
    # a config read back from JSON (lists for tuples) hashes the same
    assert json.loads(json.dumps(canonical(e))) == canonical(e)


def test_config_hash_golden_value():
    """Changing this hash orphans every stored record of the config; do it only on purpose."""
    assert config_hash(make_experiment("kpt/a-transfer", "smoke"))[:8] == "33e774ef"


def test_kptransfer_configurations():
    k = PROFILES["book"].kpt_stacks
    s1, s2 = J.KPTRANSFER_SPLITS["a"]
    src, tr, fr, rnd = (make_experiment(f"kpt/a-{r}", "book", "mpii")
                        for r in ("source", "transfer", "frozen", "random"))
    assert src.stack_targets == (tuple(sorted(s1)),) * k and src.init is None
    assert tr.stack_targets == (tuple(sorted(s1)),) * k + (tuple(sorted(s2)),) * k
    assert tr.init == src and tr.init_stacks == k and tr.loss_stacks == tuple(range(2 * k)) and tr.freeze_stacks == 0
    assert fr.init == src and fr.freeze_stacks == k and fr.loss_stacks == tuple(range(k, 2 * k))
    assert rnd.init is None and rnd.stack_targets == (tuple(sorted(s2)),) * (2 * k)
    assert tr.eval_joints == fr.eval_joints == rnd.eval_joints == tuple(sorted(s2))
    assert tr.model.stack_joints == (8, 8, 8, 8)
    # LSP has no pelvis or thorax: the splits shrink to LSP's joints
    s1_lsp, s2_lsp = kpt_subsets("a", "lspet")
    assert len(s1_lsp) == 6 and set(s1_lsp).isdisjoint(J.MPII_NOT_IN_LSP) and len(s2_lsp) == 8


def test_kptransfer_trainable_and_frozen_parameters():
    for name in ("kpt/b-frozen", "kpt/b-transfer", "kpt/b-random"):
        e = make_experiment(name, "smoke")
        m = freeze_stacks(build_model(e.model), e.freeze_stacks)
        trainable = {id(p) for p in trainable_parameters(m)}
        frozen = [p for mod in m.frozen_modules() for p in mod.parameters()]
        if e.freeze_stacks:
            assert m.frozen_modules()[:2] == [m.stem, m.stacks[0]]
        assert all(id(p) not in trainable for p in frozen)
        n_frozen = sum(p.numel() for p in m.parameters()) - sum(p.numel() for p in trainable_parameters(m))
        assert n_frozen == sum(p.numel() for p in frozen)
        assert (n_frozen > 0) == (name == "kpt/b-frozen")


def test_groups_for_every_name_and_dataset():
    for name in ("body", "mi5", "mi5_overlap", "mi2", "mi6", "mi8", "mi16"):
        for dataset, ids in DATASETS.items():
            groups = groups_for(name, ids)
            assert {j for g in groups for j in g} == set(range(len(ids)))
    assert len(groups_for("mi2", DATASETS["mpii"])) == 2 and len(groups_for("mi8", DATASETS["mpii"])) == 8
    assert sorted(groups_for("mi16", DATASETS["lspet"])) == [(i,) for i in range(14)]
    assert groups_for("mi5", DATASETS["mpii"]) == J.MI5_GROUPS
    no_ankles = make_experiment("pbn/no-ankles", "smoke")
    assert no_ankles.model.head == "linear" and not set(J.ANKLES) & set(no_ankles.eval_joints)


def test_sweep_units_keep_kptransfer_splits_together_and_chunks_partition_the_sweep():
    exps = sweep("smoke", seeds=(0, 1))
    assert len(exps) == 86
    keep = ("pbn/linear", "pbn/deep", "pbn/mi5-d1-w64", "pbn/large-mi5", "kpt/a-", "kpt/b-")
    exps = [e for e in exps if e.name.startswith(keep)]  # a cheap part: costs count each model's MACs
    units = sweep_units(exps)
    assert sum(len(u) for u in units) == len(exps)
    for u in units:
        if u[0].name.startswith("kpt/"):
            roles = [e.name.split("-")[1] for e in u]
            assert roles in (["source", "transfer", "frozen"], ["random"])
            assert len({e.seed for e in u}) == 1
    slices = [chunk(units, i, 3) for i in (1, 2, 3)]
    flat = [id(u) for s in slices for u in s]
    assert sorted(flat) == sorted(id(u) for u in units)
    assert [id(u) for u in chunk(units, 2, 3)] == [id(u) for u in slices[1]]  # deterministic
    with pytest.raises(ValueError, match="between 1 and N"):
        chunk(units, 0, 3)


def test_model_macs_is_count_macs():
    p = replace(PROFILES["smoke"], input_size=128)  # scaled ×4 from its 64×64 copy
    for name in ("pbn/mi5-d2-w128", "kpt/c-transfer"):
        e = make_experiment(name, p)
        assert model_macs(e.model) == count_macs(build_model(e.model), e.model.input_size)


@pytest.mark.slow  # counts the MACs of the book sweep's 43 models (~20 s)
def test_book_budget_fits_three_sessions_and_the_pages_quote_it():
    from lib.runtime import book_budget

    b = book_budget()
    assert b["sessions_for_3_seeds"] < 3
    quoted = {"base": f"{b['base_gmacs']:.2f} GMACs", "flop": f"{b['train_gflop_per_image']:.1f} GFLOP",
              "rate": f"{round(b['images_per_s'], -2):,.0f} images/s",
              "peak": f"{round(b['peak_images_per_s'], -2):,.0f} images/s",
              "runs": f"{b['base_runs_per_seed']:.1f}", "seed": f"{round(b['seconds_per_seed'], -1):,.0f} s"}
    pages = {"reproducibility.md": ("base", "flop", "rate", "runs", "seed"), "performance.md": ("base", "flop", "peak", "rate")}
    for page, keys in pages.items():
        text = " ".join((ROOT / "book" / page).read_text().split())  # line breaks as spaces
        for key in keys:
            assert quoted[key] in text, f"book/{page} should quote {quoted[key]!r} (lib.runtime.book_budget)"


def test_cpu_plan_runs_the_issues_priorities_first_and_fits_the_cpu_budget():
    from lib.experiments import CPU_PLAN, priority_plan
    from lib.runtime import CPU_LIMIT_S, estimated_cpu_seconds, model_macs

    plan = priority_plan("cpu")
    head = [(e.name, e.data.dataset, e.seed) for e in plan[:8]]
    assert head[:4] == [(n, "lspet", 0) for n in ("pbn/linear", "pbn/deep", "pbn/mi5-d1-w64", "pbn/body-d1-w64")]
    assert head[4:] == [(n, "lspet", 1) for n in ("pbn/linear", "pbn/deep", "pbn/mi5-d1-w64", "pbn/body-d1-w64")]
    assert len(plan) == sum(len(names) * len(seeds) for _, names, seeds in CPU_PLAN)
    first_kpt = next(i for i, e in enumerate(plan) if e.name.startswith("kpt/"))
    assert plan[first_kpt].name == "kpt/c-source" and {e.data.dataset for e in plan[:first_kpt]} == {"lspet", "synthetic-mpii"}
    for e in plan:  # every run of the plan passes the CPU budget on one fp32 thread, the slowest layout
        assert e.model.stacks >= 2 or e.name.endswith("-source")
        assert estimated_cpu_seconds(e, model_macs(e.model), threads=1, bf16=False) <= CPU_LIMIT_S, e.name
    for name in ("pbn/linear", "kpt/c-source"):  # and the budget still refuses the GPU profile's runs
        e = make_experiment(name, "book", seed=0)
        assert estimated_cpu_seconds(e, model_macs(e.model), threads=2, bf16=True) > CPU_LIMIT_S, name
    # Issue 32's order after the done groups: seeds 3-4 of the central pair on both datasets, then seed 5.
    fresh = [(e.name, e.data.dataset, e.seed) for e in plan if e.seed >= 3]
    pair = ("pbn/deep", "pbn/mi5-d1-w64")
    assert fresh == [(n, d, s) for s in (3, 4, 5) for d in ("lspet", "synthetic-mpii") for n in pair]
    after = [e.name for e in plan[plan.index(next(e for e in plan if e.seed == 5 and e.data.dataset == "synthetic-mpii")) + 2:]]
    assert after[:9] == ["pbn/overlap", "pbn/fusion-specific", "pbn/no-ankles"] * 3
    assert after[9:18] == ["pbn/groups2", "pbn/groups8", "pbn/groups16"] * 3
    assert len({(e.name, e.data.dataset, e.seed) for e in plan}) == len(plan)
    only = priority_plan("cpu", ("pbn/deep",), (2,))
    assert [(e.name, e.data.dataset, e.seed) for e in only] == [("pbn/deep", "lspet", 2), ("pbn/deep", "synthetic-mpii", 2)]
    with pytest.raises(ValueError, match="unknown experiments"):
        priority_plan("cpu", ("pbn/nonsense",))
