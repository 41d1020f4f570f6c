"""The real data sets under ../shared/data (SHARED_DIR): CI has them; a clone without them skips the
tests that read them instead of failing."""

from __future__ import annotations

import pytest

from benchmarks.common import DATASETS

needs_shared = pytest.mark.skipif(not all(path.exists() for path in DATASETS.values()),
                                  reason="../shared/data not present")
