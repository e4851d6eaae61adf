"""Heavy libraries imported on first use, one thread at a time."""

from __future__ import annotations

import importlib
import threading
from types import ModuleType

_lock = threading.RLock()


def load(name: str) -> ModuleType:
    """The module `name`, imported under one lock for the whole process.

    The text models' libraries are imported when first needed, so that commands and pages that do
    not need them start fast. Two threads importing them at the same moment can fail: nltk (which
    TextBlob imports) has import cycles, and Python's import locks then stop the second thread with a
    `_DeadlockError` or hand it a half-initialised module ("cannot import name 'PorterStemmer' from
    partially initialized module"), as the embedded server's warm-up thread and a first suggestion
    did. Every first use of these libraries goes through here."""
    with _lock:
        return importlib.import_module(name)
