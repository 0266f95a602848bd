"""nbval runs the notebooks as stored and compares their outputs with the stored ones.

A chapter whose ``profile`` is None shows the book's profile (``cpu`` once ``results/cpu/`` holds
its records: :func:`lib.params.resolve_profile`). The stored outputs are the ``smoke`` profile's,
fast and fixed, so the regression tests pin it: the kernels nbval starts inherit this variable.
"""

from __future__ import annotations

import os

from lib.params import FALLBACK_PROFILE, PROFILE_ENV

os.environ[PROFILE_ENV] = FALLBACK_PROFILE
