"""Test set-up shared by ``tests/`` and the notebooks' regression tests: notebook cells are ``slow``.

nbval turns every cell of ``notebooks/*.ipynb`` into a test item (``pytest notebooks --nbval``);
executing a chapter takes minutes, so each of its items carries the ``slow`` marker and
``pytest -m "not slow"`` (the subset for editing) leaves them out while ``make test`` runs them.
The hook lives here, at the repository root, because pytest consults ``tests/conftest.py`` only
when it collects ``tests/``.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
