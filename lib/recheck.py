"""``python -m lib.recheck RECORD.json``: rerun a record from its own commit and compare, epoch by epoch.

    python -m lib.recheck results/cpu/lspet/kpt-d-source-s2-833f3628.json --epochs 2
    python -m lib.recheck RECORD.json [--epochs N] [--threads T] [--commit REV] [--weights DIR] [--keep] [--json]

The record names the commit that trained it (``provenance.git.commit``). The check checks that
commit out into a temporary git worktree, runs the record's experiment there with that commit's
own ``python -m lib.train`` (same profile, dataset and seed; the record's precision and thread
count, passed where that commit's command line has the flags; results and checkpoints in a
temporary folder, never the repository's ``results/``), and compares each finished epoch's
history row with the record's: identical bit for bit, or the largest difference. ``--epochs N``
stops the run once its checkpoint holds N epochs (the engine rewrites ``last.pt`` at every epoch
end; this works for every commit of the study), else the whole run is compared, metrics included.
The worktree and its temporary folder are removed at the end (``--keep`` keeps them).

What decides the bits, side by side for the record and this rerun: the commit (and whether the
record's tree had uncommitted changes), the CPU kind, the precision (fp32 or bf16 autocast), the
memory format (channels-last or contiguous: the record's ``run.memory_format``, or the default of
its commit for records made before it was stored; the rerun's is read off its checkpoint), the
threads and the torch version. With all of them equal a CPU run reproduces bit for bit (the
engine seeds every generator and checkpoints them: ``lib.checkpoint``); with any of them
different it reproduces only within seed noise (``book/reproducibility.md``).

A KPTransfer ``transfer`` or ``frozen`` record starts from its source's final weights: found in
``--weights DIR`` (default ``.cache/runs``, where training leaves them) they are used with the
source's record, else the source is rerun in full first and checked as well.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch

from lib.checkpoint import DEFAULT_RUNS_DIR, FINAL, LAST
from lib.errors import DataFileError, describe
from lib.hardware import cpu_name, cpu_native_bf16
from lib.provenance import REPO_ROOT

#: History columns that measure time, not the computation: never compared.
TIMING = ("train_seconds",)


class RecheckError(RuntimeError):
    """The check could not run (no commit, no such commit, the rerun failed): one line."""


# ---------------------------------------------------------------------------------------------
# what decides the bits


@dataclass(frozen=True)
class Setting:
    """One side of the comparison: the code and the machine a run's numbers depend on."""

    commit: str | None
    dirty: bool | None
    cpu: str | None
    native_bf16: str | None
    precision: str | None
    memory_format: str | None
    threads: int | None
    torch: str | None


def record_setting(data: dict) -> Setting:
    """The record's side, from its ``provenance`` and ``run`` blocks (None where it does not say)."""
    prov, run = data.get("provenance", {}), data.get("run", {})
    git = prov.get("git") or {}
    return Setting(commit=git.get("commit"), dirty=git.get("dirty"), cpu=prov.get("cpu") or prov.get("device_name"),
                   native_bf16=prov.get("cpu_native_bf16"), precision=run.get("precision"),
                   memory_format=run.get("memory_format"), threads=prov.get("threads"), torch=prov.get("torch"))


def rerun_setting(commit: str, precision: str | None, threads: int, memory_format: str | None) -> Setting:
    """This machine's side: the commit checked out, and what this machine and the rerun used."""
    return Setting(commit=commit, dirty=False, cpu=cpu_name(), native_bf16=cpu_native_bf16(), precision=precision,
                   memory_format=memory_format, threads=threads, torch=torch.__version__)


SETTING_LABELS = {"commit": "commit", "cpu": "CPU kind", "native_bf16": "native bf16", "precision": "precision",
                  "memory_format": "memory format", "threads": "threads", "torch": "torch"}


def _shown(field: str, value, setting: Setting) -> str:
    if field == "commit":
        if value is None:
            return "not recorded"
        return f"{value[:10]}" + {True: " + uncommitted changes", False: "", None: ""}[setting.dirty]
    if field == "native_bf16":
        return value or "none"
    return "not recorded" if value is None else str(value)


def setting_rows(record: Setting, rerun: Setting) -> list[tuple[str, str, str, bool | None]]:
    """``(label, record, rerun, same)`` for each setting; ``same`` is None where the record does not say."""
    rows = []
    for field, label in SETTING_LABELS.items():
        a, b = getattr(record, field), getattr(rerun, field)
        if field == "commit":
            same = a == b and not record.dirty
        elif field == "native_bf16":  # None: the CPU has none
            same = a == b
        else:
            same = None if a is None else a == b
        rows.append((label, _shown(field, a, record), _shown(field, b, rerun), same))
    return rows


def memory_format_of(state: dict) -> str | None:
    """``channels_last`` or ``contiguous``: how a model's convolution weights were laid out when saved.

    Read off the first weight with a spatial kernel (a 1×1 kernel's layout is ambiguous), so a
    checkpoint tells which memory format trained it whatever the code that wrote it.
    """
    for value in state.values():
        if isinstance(value, torch.Tensor) and value.dim() == 4 and value.shape[2] * value.shape[3] > 1 \
                and value.shape[1] > 1:
            if value.is_contiguous():
                return "contiguous"
            if value.is_contiguous(memory_format=torch.channels_last):
                return "channels_last"
    return None


# ---------------------------------------------------------------------------------------------
# comparing histories


@dataclass(frozen=True)
class EpochCheck:
    """One epoch: identical bit for bit, or which columns differ and the largest difference (and where)."""

    epoch: int
    identical: bool
    values: int
    differing: tuple[str, ...]
    max_abs_diff: float
    largest: str | None = None

    def line(self) -> str:
        if self.identical:
            return f"epoch {self.epoch}: identical ({self.values} values, bit for bit)"
        return (f"epoch {self.epoch}: differs in {', '.join(self.differing)} "
                f"(largest: {self.largest} by {self.max_abs_diff:.3g})")


def _same(a, b) -> bool:
    """Bit for bit: equal values (a float read back from JSON is the float written; NaN equals NaN)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _distance(a: float, b: float) -> float:
    d = abs(float(a) - float(b))
    return math.inf if math.isnan(d) else d  # NaN on one side only


def compare_history(recorded: list[dict], rerun: list[dict], ignore: tuple[str, ...] = TIMING) -> list[EpochCheck]:
    """Epoch by epoch over the epochs both have: every column but ``ignore`` equal bit for bit?"""
    out = []
    for want, got in zip(recorded, rerun):
        keys = sorted((set(want) | set(got)) - set(ignore))
        differing = tuple(k for k in keys if k not in want or k not in got or not _same(want[k], got[k]))
        diffs = {k: _distance(want[k], got[k]) for k in differing
                 if isinstance(want.get(k), (int, float)) and isinstance(got.get(k), (int, float))}
        largest = max(diffs, key=diffs.get) if diffs else (differing[0] if differing else None)
        out.append(EpochCheck(int(want.get("epoch", len(out) + 1)), not differing, len(keys), differing,
                              diffs.get(largest, math.inf) if differing else 0.0, largest))
    return out


def compare_metrics(recorded: dict, rerun: dict) -> tuple[str, ...]:
    """The final metrics (``Mean``, ``Hard``, per part, losses) that are not bit for bit the record's."""
    return tuple(k for k in sorted(set(recorded) | set(rerun)) if not _same(recorded.get(k), rerun.get(k)))


# ---------------------------------------------------------------------------------------------
# the record's own commit, checked out and run


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if out.returncode:
        raise RecheckError(f"git {' '.join(args)} failed in {repo}: {' '.join(out.stderr.split())[:300]}")
    return out.stdout.strip()


def repository_of(path: Path) -> Path:
    """The git checkout holding ``path`` (a record inside a clone's ``results/``), else this one."""
    out = subprocess.run(["git", "-C", str(path.parent), "rev-parse", "--show-toplevel"], capture_output=True,
                         text=True)
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else REPO_ROOT


def resolve_commit(repo: Path, rev: str) -> str:
    """The full hash of ``rev`` in ``repo``; a :class:`RecheckError` saying how to get it when missing."""
    out = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
                         capture_output=True, text=True)
    if out.returncode:
        raise RecheckError(f"commit {rev[:10]} is not in {repo}; fetch it (git fetch --all) or pass --commit REV")
    return out.stdout.strip()


@contextmanager
def worktree(repo: Path, commit: str, where: Path, keep: bool = False) -> Iterator[Path]:
    """``commit`` checked out (detached) at ``where``; removed afterwards unless ``keep``."""
    git(repo, "worktree", "add", "--detach", "--quiet", str(where), commit)
    try:
        yield where
    finally:
        if not keep:
            subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(where)], capture_output=True)
            shutil.rmtree(where, ignore_errors=True)
            subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)


def command_line(tree: Path, python: str = sys.executable) -> tuple[str, set[str]]:
    """The training module of the commit at ``tree`` (``lib.train``; ``lib.cli`` in the first commits)
    and the options its ``--help`` lists."""
    for module in ("lib.train", "lib.cli"):
        out = subprocess.run([python, "-m", module, "--help"], cwd=tree, capture_output=True, text=True)
        if out.returncode == 0 and "--profile" in out.stdout:
            return module, set(re.findall(r"(--[a-z][a-z0-9-]*)", out.stdout))
    raise RecheckError(f"neither lib.train nor lib.cli at {tree} is a training command line")


def train_command(data: dict, module: str, flags: set[str], results: Path, runs: Path, threads: int,
                  python: str = sys.executable) -> tuple[list[str], list[str]]:
    """The rerun's command line, and the record's settings the commit's command line cannot take."""
    cmd = [python, "-m", module, data["experiment"], "--profile", data["profile"], "--dataset", data["dataset"],
           "--seed", str(data["seed"]), "--results", str(results), "--checkpoint-dir", str(runs)]
    prov, run = data.get("provenance", {}), data.get("run", {})
    wanted = {"--device": prov.get("device"), "--precision": run.get("precision"), "--threads": str(threads)}
    missing = []
    for flag, value in wanted.items():
        if value is None:
            continue
        if flag in flags:
            cmd += [flag, str(value)]
        else:
            missing.append(f"{flag} {value}")
    cmd += [f for f in ("--allow-slow",) if f in flags]  # the CPU budget check changes no number
    return cmd, missing


def read_history(path: Path) -> tuple[list[dict], str | None]:
    """The history and the model's memory format in a checkpoint (``last.pt``) or the final weights."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    return list(saved.get("history", [])), memory_format_of(saved.get("model", {}))


def run_until(cmd: list[str], cwd: Path, last: Path, epochs: int | None, log: Callable[[str], None],
              poll_s: float = 0.5) -> tuple[list[dict], str | None] | None:
    """Run ``cmd``; with ``epochs``, stop it once ``last`` (its checkpoint) holds that many epochs.

    Returns that checkpoint's history and memory format, or None when the run finished (its record
    then says it all). The command's lines are passed to ``log`` as they come; a failed run is a
    :class:`RecheckError` with its last lines.
    """
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    tail: deque[str] = deque(maxlen=20)

    def forward() -> None:
        for line in proc.stdout:
            tail.append(line.rstrip())
            log(f"  | {line.rstrip()}")

    reader = threading.Thread(target=forward, daemon=True)
    reader.start()
    seen = None
    try:
        while proc.poll() is None:
            time.sleep(poll_s)
            if epochs and last.exists() and last.stat().st_mtime_ns != seen:
                seen = last.stat().st_mtime_ns
                history, fmt = read_history(last)
                if len(history) >= epochs:
                    return history[:epochs], fmt
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join(5)
    if proc.returncode != 0:
        raise RecheckError(f"the rerun failed (exit {proc.returncode}): {' / '.join(list(tail)[-3:])}")
    return None


def prepare_source(data: dict, record: Path, weights: Path, results: Path, runs: Path) -> str | None:
    """For a run that starts from a KPTransfer source's weights, put them and the source's record where
    the rerun looks; a note on what happens (None: the run has no source)."""
    init = (data.get("config") or {}).get("init")
    if not init:
        return None
    name, seed = init["name"], data["seed"]
    found = [(p, d) for p in sorted(record.parent.glob("*.json")) if not p.name.startswith(".")
             for d in [_json(p)] if d.get("experiment") == name and d.get("seed") == seed]
    final = weights / found[0][1]["hash"] / FINAL if found else None
    if final is None or not final.is_file():
        where = f"no weights of it in {weights}" if found else f"no record of it beside {record.name}"
        return f"starts from {name} s{seed}'s final weights: {where}, so {name} is rerun in full first"
    src, src_data = found[0]
    dest = results / data["profile"] / data["dataset"]
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest / src.name)
    arrays = src.parent / src_data["arrays"]
    if arrays.is_file():
        shutil.copy2(arrays, dest / arrays.name)
    (runs / final.parent.name).mkdir(parents=True, exist_ok=True)
    shutil.copy2(final, runs / final.parent.name / FINAL)
    return (f"starts from {name} s{seed}'s final weights in {final} (if they are not bit for bit the ones its "
            "record's run left, this run differs from epoch 1)")


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataFileError(path, f"is not a readable result record ({describe(e)})",
                            "restore it from git (git checkout -- PATH)") from None


# ---------------------------------------------------------------------------------------------
# the check


@dataclass
class Report:
    """What a check found: the settings side by side, each epoch's verdict, and notes."""

    record: str
    experiment: str
    commit: str
    epochs_asked: int | None
    command: list[str]
    settings: list[tuple[str, str, str, bool]]
    epochs: list[EpochCheck]
    metrics_differing: tuple[str, ...] | None
    notes: list[str]

    @property
    def identical(self) -> bool:
        return bool(self.epochs) and all(e.identical for e in self.epochs) and not self.metrics_differing

    def text(self) -> str:
        width = max(len(r[1]) for r in self.settings) + 2
        lines = [f"{'':<15}{'record':<{width}}rerun here"]
        mark = {True: "", False: "   <- differs", None: "   (the record does not say)"}
        lines += [f"{label:<15}{a:<{width}}{b}{mark[same]}" for label, a, b, same in self.settings]
        lines += [""] + [e.line() for e in self.epochs]
        if self.metrics_differing is not None:
            lines.append("final metrics: " + ("identical" if not self.metrics_differing
                                              else f"differ in {', '.join(self.metrics_differing)}"))
        same = sum(e.identical for e in self.epochs)
        verdict = (f"{self.experiment}: {same} of {len(self.epochs)} epochs identical to the record, bit for bit"
                   if self.epochs else f"{self.experiment}: no epoch to compare")
        if not self.identical:
            diff = [label for label, _, _, s in self.settings if s is False]
            verdict += (f"; settings that differ: {', '.join(diff)}" if diff else
                        "; every recorded setting is the same, so the code or its libraries behave differently")
        return "\n".join([*self.notes, *lines, verdict])


def recheck(record: str | Path, epochs: int | None = None, threads: int | None = None, commit: str | None = None,
            weights: str | Path | None = None, keep: bool = False, log: Callable[[str], None] = print) -> Report:
    """Rerun ``record``'s experiment from its commit (or ``commit``) and compare (see the module doc)."""
    record = Path(record).resolve()
    if not record.is_file():
        raise FileNotFoundError(f"record {record} not found")
    data = _json(record)
    if not isinstance(data.get("history"), list) or "experiment" not in data:
        raise DataFileError(record, "is json but not a result record (no history)", "give a record under results/")
    mine = record_setting(data)
    commit = commit or mine.commit
    if commit is None:
        raise RecheckError(f"{record.name} names no commit (made outside a git checkout); pass --commit REV")
    repo = repository_of(record)
    commit = resolve_commit(repo, commit)
    n_rec = len(data["history"])
    if epochs is not None and epochs < 1:
        raise ValueError(f"--epochs {epochs}: give at least 1 (or leave it out for the whole run)")
    epochs = min(epochs, n_rec) if epochs else None
    threads = threads or mine.threads or 1
    notes = [f"record  {record} ({data['experiment']}, {data['profile']}, {data['dataset']}, seed {data['seed']}; "
             f"{n_rec} epochs)"]
    if mine.dirty:
        notes.append(f"note: the record was made with uncommitted changes on top of {commit[:10]}; the commit alone "
                     "may not reproduce it")
    if commit != mine.commit:
        notes.append(f"note: running commit {commit[:10]}, not the record's own {str(mine.commit)[:10]}")
    tmp = Path(tempfile.mkdtemp(prefix="recheck-"))
    results, runs = tmp / "results", tmp / "runs"
    try:
        with worktree(repo, commit, tmp / "tree", keep) as tree:
            module, flags = command_line(tree)
            cmd, missing = train_command(data, module, flags, results, runs, threads)
            if missing:
                notes.append(f"note: commit {commit[:10]}'s {module} has no {', '.join(missing)}; its defaults apply")
            source = prepare_source(data, record, Path(weights) if weights else DEFAULT_RUNS_DIR, results, runs)
            if source:
                notes.append(f"note: {data['experiment']} {source}")
            what = "the whole run" if not epochs else "its first epoch" if epochs == 1 else f"its first {epochs} epochs"
            log(f"rerunning {what} at {commit[:10]} in {tree}:\n  python {' '.join(cmd[1:])}")
            stopped = run_until(cmd, tree, runs / data["hash"] / LAST, epochs, log)
            if stopped is not None:
                rerun, fmt = stopped
                metrics = None
            else:
                new = _new_record(results, data)
                rerun, metrics = new["history"], compare_metrics(data.get("metrics", {}), new.get("metrics", {}))
                fmt = (new.get("run") or {}).get("memory_format") or _final_format(runs, new["hash"])
                if len(rerun) != n_rec:
                    notes.append(f"note: the rerun ran {len(rerun)} epochs, the record {n_rec}")
    finally:
        if keep:
            log(f"kept: {tmp} (worktree, results, runs; remove the worktree with "
                f"git -C {repo} worktree remove --force {tmp / 'tree'})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if mine.memory_format is None and commit == mine.commit and fmt is not None:
        notes.append(f"note: the record predates run.memory_format; its commit's default, which the rerun used, is "
                     f"{fmt}")
    here = rerun_setting(commit, data.get("run", {}).get("precision"), threads, fmt)
    return Report(str(record), f"{data['experiment']} s{data['seed']}", commit, epochs, cmd,
                  setting_rows(mine, here), compare_history(data["history"][:epochs or n_rec], rerun), metrics, notes)


def _new_record(results: Path, data: dict) -> dict:
    found = [p for p in results.glob(f"{data['profile']}/{data['dataset']}/*.json")
             if _json(p).get("experiment") == data["experiment"] and _json(p).get("seed") == data["seed"]]
    if not found:
        raise RecheckError(f"the rerun finished but wrote no record of {data['experiment']} under {results}")
    return _json(found[0])


def _final_format(runs: Path, hash_: str) -> str | None:
    final = runs / hash_ / FINAL
    return read_history(final)[1] if final.is_file() else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lib.recheck", description=__doc__.splitlines()[0])
    p.add_argument("record", type=Path, help="a record (.json) under results/")
    p.add_argument("--epochs", type=int, default=None, help="compare only the first N epochs (default: the whole run)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads of the rerun (default: the record's)")
    p.add_argument("--commit", default=None, help="run this commit instead of the record's own")
    p.add_argument("--weights", type=Path, default=None,
                   help="KPTransfer runs: folder of run folders holding the source's final.pt (default .cache/runs)")
    p.add_argument("--keep", action="store_true", help="keep the worktree and the rerun's files")
    p.add_argument("--json", action="store_true", help="end with one line of JSON")
    p.add_argument("--quiet", action="store_true", help="do not pass on the rerun's lines")
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: end the rerun, remove the worktree
    log = (lambda line: None) if args.quiet else (lambda line: print(line, flush=True))
    try:
        report = recheck(args.record, args.epochs, args.threads, args.commit, args.weights, args.keep, log)
    except (RecheckError, DataFileError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(report.text())
    if args.json:
        print(json.dumps({"record": report.record, "commit": report.commit, "identical": report.identical,
                          "epochs": [asdict(e) for e in report.epochs], "metrics_differing": report.metrics_differing,
                          "settings": [dict(zip(("setting", "record", "rerun", "same"), r)) for r in report.settings],
                          "notes": report.notes}))
    return 0 if report.identical else 1


if __name__ == "__main__":
    sys.exit(main())
