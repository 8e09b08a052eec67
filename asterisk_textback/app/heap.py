"""Keep the garbage collector's full passes short in the long-running service.

A full (generation 2) collection visits every object the collector tracks and stops the
event loop while it does. Right after start-up that is about 120,000 objects (the imported
libraries, the settings, the compiled templates and SQL statements), and a full pass over
them measured 40-85 ms: every call being recorded and every text being sent at that moment
waited that long (``bench/pipeline.py --calls 10000 --profile p.json`` shows it as
``gc.gen2``). Those objects live as long as the process, so scanning them again finds nothing.
"""

from __future__ import annotations

import gc
import logging
import time

from asterisk_textback.store.models import configure_models

__all__ = ["settle"]

log = logging.getLogger(__name__)


def settle() -> int:
    """Collect once, then leave every object alive now out of later collections.

    Call it once, when the service is built and before it takes work (never per request):
    objects frozen here are only freed by reference counting, so whatever exists now should
    live until the process ends.
    Returns how many objects were frozen.
    """
    began = time.perf_counter()
    configure_models()  # built on the first query otherwise, after the freeze
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info(
        "start-up heap frozen: %d objects out of later collections (%.0f ms)",
        frozen,
        (time.perf_counter() - began) * 1000,
    )
    return frozen
