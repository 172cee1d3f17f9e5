"""Bounded memory for the service: a picture's pixels take far more room than its file.

A 7,900 x 7,900 PNG of under 1 MB decodes to 187 MB of pixels. Measured with
`benchmarks/serve_load.py` (20 such uploads at once), before these measures: a peak of 17.6 GB and
7.2 GB still held afterwards. Three measures:
- `DecodeBudget`: uploads are decoded only while the pixels being decoded fit in a budget, so many
  small pictures go at once and the largest go one at a time (the others wait, holding only their bytes);
- each picture is reduced to what the face search needs as it is decoded (deepfake_coach/images.py);
- `return_large_blocks` and `release_memory`: freed memory goes back to the system instead of staying
  in the allocator's pools.
"""

from __future__ import annotations

import functools
import threading
from contextlib import contextmanager
from typing import Iterator

DECODE_BUDGET_BYTES = 256 * 1024 * 1024  # pixels being decoded at once (4 bytes each in colour, as Pillow holds them): one 7,900 px PNG


class DecodeBudget:
    """Admits decodes while their pixel bytes fit in `budget`; one larger than the budget runs alone."""

    def __init__(self, budget: int = DECODE_BUDGET_BYTES):
        self.budget = budget
        self.in_use = 0
        self.running = 0
        self._changed = threading.Condition()

    @contextmanager
    def reserve(self, size: int) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: self.running == 0 or self.in_use + size <= self.budget)
            self.in_use += size
            self.running += 1
        try:
            yield
        finally:
            with self._changed:
                self.in_use -= size
                self.running -= 1
                self._changed.notify_all()


@functools.cache
def _libc():
    """glibc, looked up once: find_library runs `ldconfig -p` each time it is asked."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    # Only glibc has these; other C libraries (macOS, Windows, musl) return memory their own way.
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def return_large_blocks() -> None:
    """Blocks of 1 MB and more (pixels, batches) go back to the system as soon as they are freed:
    glibc otherwise raises that limit as large blocks come and go, and keeps them for reuse."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD; a fixed value also stops glibc from raising it


def release_memory() -> None:
    """Hand memory freed in smaller blocks back to the system too (after a large picture)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
