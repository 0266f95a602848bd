"""Notebook parameters as users type them: list values in any common spelling, and the book's profile.

papermill hands a notebook's parameters cell what the command line gave, barely parsed:
``-p seeds 0`` arrives as the int ``0``, ``-p seeds "[0, 1]"`` and ``-p seeds "0,1"`` as the
strings ``"[0, 1]"`` and ``"0,1"``, ``-y "seeds: [0, 1]"`` as the list ``[0, 1]``, and
``book/build.py -p seeds "[0, 1]"`` as a list again (it reads values as YAML). The cell after a
notebook's parameters cell turns each list parameter into a tuple with :func:`parse_int_list` or
:func:`parse_str_list`; any other value is one line naming the parameter and the accepted forms.

A chapter opened as it is (``profile = None``) shows the records the book shows
(:func:`resolve_profile`): ``cpu`` when ``results/cpu/`` holds the chapter's records, else
``smoke``. The notebooks' regression tests pin ``smoke`` through :data:`PROFILE_ENV`
(``notebooks/conftest.py``), so that they keep comparing the outputs stored with the notebooks.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from lib.experiments import PROFILES
from lib.results import DEFAULT_RESULTS

#: The experiments each chapter reads, by record-name prefix (None: any). Chapters not listed read none.
CHAPTER_EXPERIMENTS: dict[str, str | None] = {"findings": None, "00_intro": None, "03_pbn": "pbn-", "04_kptransfer": "kpt-"}

#: Environment variable naming the profile of every chapter whose ``profile`` is None (the nbval tests set ``smoke``).
PROFILE_ENV = "POSE_PROFILE"

#: The profile of a chapter without ``cpu`` records (seconds per run on a CPU; the regression tests' profile).
FALLBACK_PROFILE = "smoke"

_NONE_WORDS = {"", "none", "null", "~"}


def _forms(name: str, example: tuple[str, str], allow_none: bool | str) -> str:
    """The accepted spellings of list parameter ``name``, for an error message."""
    a, b = example
    none = f", or None for {allow_none if isinstance(allow_none, str) else 'the default'}" if allow_none else ""
    return (f"give {a}, {a},{b}, \"{a} {b}\" or [{a}, {b}] "
            f"(papermill: -p {name} \"[{a}, {b}]\" or -y \"{name}: [{a}, {b}]\"){none}")


def _items(name: str, value: Any, example: tuple[str, str], allow_none: bool | str) -> list | None:
    """``value`` split into its items (still raw), or None; ValueError naming the accepted forms."""
    bad = f"{name} = {value!r} is not a list; " + _forms(name, example, allow_none)
    if value is None or (isinstance(value, str) and value.strip().lower() in _NONE_WORDS):
        if allow_none:
            return None
        raise ValueError(f"{name} = {value!r}: this parameter needs a value; " + _forms(name, example, False))
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "[(" and text[-1:] in "])" and len(text) >= 2:
            text = text[1:-1]
        elif text[:1] in "[(" or text[-1:] in "])":
            raise ValueError(bad)
        return [t.strip().strip("'\"") for t in re.split(r"[,\s]+", text.strip()) if t.strip()]
    return [value]


def parse_int_list(name: str, value: Any, allow_none: bool | str = True) -> tuple[int, ...] | None:
    """Whole numbers from an int, a list or tuple, or a string ``"0"``, ``"0,1"``, ``"0 1"``, ``"[0, 1]"``.

    None (or ``"None"``) stays None when ``allow_none`` (a string there names what None means in
    the error message). Floats, booleans and words are a ``ValueError`` naming ``name`` and the
    accepted forms, e.g. ``parse_int_list("seeds", "0;1")``.
    """
    items = _items(name, value, ("0", "1"), allow_none)
    if items is None:
        return None
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)) or (
                isinstance(item, str) and not re.fullmatch(r"[+-]?\d+", item)):
            raise ValueError(f"{name} = {value!r}: {item!r} is not a whole number; "
                             + _forms(name, ("0", "1"), allow_none))
        out.append(int(item))
    return tuple(out)


def parse_str_list(name: str, value: Any, allow_none: bool | str = True,
                   example: tuple[str, str] = ("lspet", "synthetic"),
                   choices: tuple[str, ...] | None = None) -> tuple[str, ...] | None:
    """Names from a string ``"a"``, ``"a,b"``, ``"a b"``, ``"[a, b]"`` (quotes optional), or a list of strings.

    None (or ``"None"``) stays None when ``allow_none``. With ``choices``, a name outside them is
    a ``ValueError`` listing them.
    """
    items = _items(name, value, example, allow_none)
    if items is None:
        return None
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValueError(f"{name} = {value!r}: {item!r} is not a name; " + _forms(name, example, allow_none))
        if choices is not None and item not in choices:
            raise ValueError(f"{name} = {value!r}: unknown {item!r}; choose from {', '.join(choices)}")
    return tuple(items)


def book_profile(chapter: str, results_dir: str | Path | None = None) -> str:
    """The profile the book shows in ``chapter`` (a notebook's stem, e.g. ``03_pbn``).

    ``cpu`` when ``<results_dir>/cpu/`` holds a record of the chapter's experiments
    (:data:`CHAPTER_EXPERIMENTS`), else :data:`FALLBACK_PROFILE`.
    """
    if chapter not in CHAPTER_EXPERIMENTS:
        raise ValueError(f"chapter {chapter!r} reads no training records; chapters that do: "
                         f"{', '.join(CHAPTER_EXPERIMENTS)}")
    root = Path(results_dir) if results_dir is not None else DEFAULT_RESULTS
    prefix = CHAPTER_EXPERIMENTS[chapter] or ""
    found = any(p.name.startswith(prefix) for p in (root / "cpu").glob("*/*.json"))
    return "cpu" if found else FALLBACK_PROFILE


def resolve_profile(profile: str | None, chapter: str, results_dir: str | Path | None = None) -> str:
    """``profile`` if given, else ``$POSE_PROFILE`` if set, else the book's (:func:`book_profile`).

    So a notebook opened as it is shows what the book shows, and the regression tests, which set
    ``POSE_PROFILE=smoke``, run the ``smoke`` records whatever ``results/cpu/`` holds.
    """
    if profile is None or (isinstance(profile, str) and profile.strip().lower() in _NONE_WORDS):
        profile = os.environ.get(PROFILE_ENV) or book_profile(chapter, results_dir)
        where = f"${PROFILE_ENV}" if os.environ.get(PROFILE_ENV) else "the book's profile"
    else:
        where = "profile"
    if profile not in PROFILES:
        raise ValueError(f"{where} {profile!r} is not a profile; choose from {', '.join(sorted(PROFILES))} "
                         "(or None for the book's)")
    return profile
