"""Where a result came from: code version, machine, libraries, date.

Every record in ``results/`` carries this, so that a number in the book can be traced to the
commit and the hardware that produced it (and a CPU smoke number is never mistaken for a GPU one).
"""

from __future__ import annotations

import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from lib.hardware import cpu_name, cpu_native_bf16, device_name

REPO_ROOT = Path(__file__).resolve().parents[1]


def git_state(repo: Path = REPO_ROOT) -> dict:
    """``{"commit": sha or None, "dirty": bool or None}``; None outside a git checkout."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def provenance(device: torch.device | str) -> dict:
    """Code version, device, library versions and the UTC date, JSON-serialisable."""
    device = torch.device(device)
    return {
        "git": git_state(),
        "device": device.type,
        "device_name": device_name(device),
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "cpu": cpu_name(),
        "cpu_native_bf16": cpu_native_bf16(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
