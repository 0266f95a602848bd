"""Load a script of ``book/`` (not a package: it runs as ``python book/NAME.py``) as a module for tests."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def load(name: str) -> ModuleType:
    """``book/<name>.py`` as a module, with ``book/`` importable as the script itself has it."""
    book = str(ROOT / "book")
    if book not in sys.path:
        sys.path.insert(0, book)
    spec = importlib.util.spec_from_file_location(f"book_{name}", ROOT / "book" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
