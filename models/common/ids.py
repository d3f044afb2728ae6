"""Run ids: sortable by start time (UTC) and unique across concurrent runs."""

from __future__ import annotations

import time
import uuid


def new_run_id(prefix: str = "") -> str:
    """E.g. `20261125T131500Z-3f9a1c`; six hex digits keep runs started in the same second apart."""
    return prefix + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
