"""lib.params: list parameters in every spelling papermill hands over, and the book's profile."""

from __future__ import annotations

import json

import pytest

from lib import params

# What papermill 2.x puts into a notebook for each way of typing the seeds (checked with its CLI):
# -p parses ints and floats and leaves other text as a string; -y parses YAML.
AS_TYPED = [
    (0, (0,)),                 # -p seeds 0
    ("[0]", (0,)),             # -p seeds "[0]"
    ("0,1", (0, 1)),           # -p seeds "0,1"    (and -y "seeds: 0,1")
    ("0 1", (0, 1)),           # -p seeds "0 1"
    ("[0, 1]", (0, 1)),        # -p seeds "[0, 1]"
    ("(0, 1)", (0, 1)),
    ([0, 1], (0, 1)),          # -y "seeds: [0, 1]", or book/build.py -p seeds "[0, 1]" (read as YAML)
    ((2,), (2,)),
    ("[]", ()),
    (None, None),              # the default
    ("None", None),            # -r seeds None, or book/build.py -p seeds None (YAML reads it as a string)
]


@pytest.mark.parametrize("value,expected", AS_TYPED)
def test_int_list_accepts_what_users_type(value, expected):
    assert params.parse_int_list("seeds", value) == expected


@pytest.mark.parametrize("value", [1.5, True, "0;1", "one", "[0", "0]", "1.0", {"seeds": 0}, [0, "x"], [0.5]])
def test_int_list_rejects_anything_else_in_one_line_naming_the_forms(value):
    with pytest.raises(ValueError) as e:
        params.parse_int_list("seeds", value, "the profile's")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("seeds = ")
    assert '-p seeds "[0, 1]"' in msg and '-y "seeds: [0, 1]"' in msg and "None for the profile's" in msg


def test_none_is_an_error_where_the_parameter_needs_a_value():
    assert params.parse_int_list("seeds", "0", allow_none=False) == (0,)
    with pytest.raises(ValueError, match=r"^probes = None: this parameter needs a value; give cpu-128"):
        params.parse_str_list("probes", None, allow_none=False, example=("cpu-128", "smoke"))


@pytest.mark.parametrize("value,expected", [
    ("lspet", ("lspet",)), ("lspet,synthetic", ("lspet", "synthetic")), ("lspet synthetic", ("lspet", "synthetic")),
    ("[lspet, synthetic]", ("lspet", "synthetic")), ("['lspet', \"synthetic\"]", ("lspet", "synthetic")),
    (["lspet"], ("lspet",)), (None, None),
])
def test_str_list_accepts_what_users_type(value, expected):
    assert params.parse_str_list("table_datasets", value) == expected


def test_str_list_checks_names_against_the_choices():
    assert params.parse_str_list("probes", "cpu-128", choices=("cpu-128", "smoke")) == ("cpu-128",)
    with pytest.raises(ValueError, match=r"^probes = 'cpu-12': unknown 'cpu-12'; choose from cpu-128, smoke$"):
        params.parse_str_list("probes", "cpu-12", choices=("cpu-128", "smoke"))
    with pytest.raises(ValueError, match=r"^table_datasets = 3: 3 is not a name; give lspet"):
        params.parse_str_list("table_datasets", 3)


def _record(root, profile, dataset, name):
    path = root / profile / dataset / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({}))


def test_book_profile_is_cpu_where_the_chapter_has_cpu_records(tmp_path):
    assert params.book_profile("03_pbn", tmp_path) == "smoke"
    _record(tmp_path, "cpu", "lspet", "kpt-c-source-s0-0123abcd.json")
    assert params.book_profile("04_kptransfer", tmp_path) == "cpu"
    assert params.book_profile("00_intro", tmp_path) == "cpu"  # the introduction reads every experiment
    assert params.book_profile("03_pbn", tmp_path) == "smoke"  # no pbn- record yet
    with pytest.raises(ValueError, match="chapter '01_data' reads no training records"):
        params.book_profile("01_data", tmp_path)


def test_resolve_profile_given_then_environment_then_book(tmp_path, monkeypatch):
    _record(tmp_path, "cpu", "lspet", "pbn-deep-s0-0123abcd.json")
    monkeypatch.delenv(params.PROFILE_ENV, raising=False)
    assert params.resolve_profile(None, "03_pbn", tmp_path) == "cpu"      # a notebook opened as it is
    assert params.resolve_profile("book", "03_pbn", tmp_path) == "book"   # -p profile book
    monkeypatch.setenv(params.PROFILE_ENV, "smoke")                       # the nbval tests (notebooks/conftest.py)
    assert params.resolve_profile(None, "03_pbn", tmp_path) == "smoke"
    assert params.resolve_profile("None", "03_pbn", tmp_path) == "smoke"
    with pytest.raises(ValueError, match=r"^profile 'cpu128' is not a profile; choose from book, cpu, cpu-128"):
        params.resolve_profile("cpu128", "03_pbn", tmp_path)
    monkeypatch.setenv(params.PROFILE_ENV, "smok")
    with pytest.raises(ValueError, match=r"^\$POSE_PROFILE 'smok' is not a profile"):
        params.resolve_profile(None, "03_pbn", tmp_path)
