"""Small scikit-learn models trained from shipped data on first use and cached under ``SANGDAM_HOME``: the intent
router and the sentiment model. The cache file is named by a hash of the training data, written atomically, and
stale versions are removed; a cache that cannot be read is rebuilt, one that cannot be written only costs a
retrain per process."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)
M = TypeVar("M")


def load_or_train(folder: Path, prefix: str, key: str, kind: type[M], train: Callable[[], M], *,
                  stored: Callable[[M], Any] = lambda model: model) -> M:
    """The model cached as ``<prefix>-<key>.joblib`` in ``folder`` when it is a ``kind`` with ``cache_key == key``,
    else ``train()`` (cached as ``stored(model)``, e.g. without what is rebuilt on load)."""
    import joblib

    path = folder / f"{prefix}-{key}.joblib"
    if path.exists():
        try:
            model = joblib.load(path)
            if isinstance(model, kind) and getattr(model, "cache_key", None) == key:
                return model
        except Exception as exc:  # a truncated or foreign file: rebuild it
            log.warning("ignoring unreadable model cache %s: %s", path, exc)
    log.info("training %s (cache key %s)", prefix, key)
    model = train()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        os.close(fd)
        joblib.dump(stored(model), tmp)
        os.replace(tmp, path)  # atomic: a concurrent process never reads half a file
        for stale in folder.glob(f"{prefix}-*.joblib"):
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not cache the %s model in %s: %s", prefix, folder, exc)
    return model
