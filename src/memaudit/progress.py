"""Progress bars only where someone watches: on a terminal, never line by line into a log file."""

from __future__ import annotations

import sys
from typing import Any


def progress_bar(enabled: bool, **kwargs: Any) -> Any:
    """A tqdm bar, disabled unless `enabled` and stderr is a terminal."""
    from tqdm import tqdm

    return tqdm(disable=not (enabled and sys.stderr.isatty()), **kwargs)
