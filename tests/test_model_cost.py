"""Tests of lib.model_cost: PBN Table 6 parameter counts, MACs by hand, the summary command line."""

from __future__ import annotations

import json

import pytest

from lib.joints import MI5_GROUPS, MI5_OVERLAP_GROUPS
from lib.model_cost import count_macs, count_params, macs_by_module, main, table6_parameters
from lib.models import ModelConfig, build_model
from lib.paper import PBN_TABLE6


@pytest.mark.parametrize(("head", "expected", "row"), [("pbn", 26_686_848, "Ours (8 stacks)"),
                                                        ("deep", 27_216_768, "Deep BS (8 stacks)")])
def test_table6_parameter_counts(head: str, expected: int, row: str) -> None:
    """PBN Table 6: 8 stacks, 16 joints, MI5 groups, D=1, W=64, 256×256."""
    paper = PBN_TABLE6.loc[row, "Params (M)"] * 1e6
    cfg = ModelConfig(stacks=8, head=head, groups=MI5_GROUPS if head == "pbn" else (), depth=1, width=64)
    n = count_params(build_model(cfg))
    assert abs(n - paper) / paper < 0.005
    assert round(n / 1e6, 2) == round(paper / 1e6, 2)
    assert n == expected


def test_table6_parameters_match_the_paper():
    counts = table6_parameters()
    assert list(counts.index) == ["Deep BS (8 stacks)", "Ours (8 stacks)"]
    assert counts.loc["Ours (8 stacks)", "ours"] == 26_686_848
    assert counts.loc["Deep BS (8 stacks)", "ours"] == 27_216_768
    assert (counts["ours (M)"] == counts["paper (M)"]).all()


def test_newell_hourglass_parameter_count() -> None:
    """Newell's 8-stack hourglass (7×7 stem, linear head): the ~25.4M of pose-hg-train."""
    n = count_params(build_model(ModelConfig(stacks=8, head="linear", stem="newell")))
    assert n == 25_434_112


def test_count_macs_by_hand() -> None:
    model = build_model(ModelConfig(num_joints=16, stacks=1, channels=32, head="linear", input_size=64))
    macs = macs_by_module(model, 64)
    assert macs["stacks.0.head.out"] == 16 * 16 * 32 * 16  # 16×16 map, 32 in, 16 out
    assert macs["stem.0.0"] == 64 * 64 * 64 * 3 * 9  # PBN stem: 3×3 conv 3→64 at full resolution
    assert count_macs(model, 64) == sum(macs.values())
    assert count_macs(model, 128) == pytest.approx(4 * count_macs(model, 64), rel=0.05)


def test_cli_json_last_line(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["summary", "--stacks", "1", "--head", "pbn", "--groups", "mi5_overlap", "--input", "64", "--json"]
    assert main(argv) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    summary = json.loads(last)
    cfg = ModelConfig(stacks=1, head="pbn", groups=MI5_OVERLAP_GROUPS, input_size=64)
    model = build_model(cfg)
    assert summary["params"] == count_params(model)
    assert summary["macs"] == count_macs(model, 64)
    assert summary["config"]["head"] == "pbn" and summary["config"]["stacks"] == 1


def test_cli_bad_groups_exit(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["summary", "--head", "pbn", "--groups", "nope"])
    assert "mi5_overlap" in capsys.readouterr().err
