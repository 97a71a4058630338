"""Intent classification with out-of-scope detection.

Features: TF-IDF over word 1-2-grams and character 2-5-grams (the character n-grams carry
Chinese, which has no spaces between words) beside sentence embeddings from
`kefu.core.text_encoder` (weighted x2 so the dense part is not drowned by thousands of sparse
columns). A linear SVM scores every intent; a small logistic calibrator fitted on held-out
training data turns (top score, margin to the runner-up) into the probability that the top
intent is right. Below the threshold tuned on that same held-out data, or when the top intent
is the `oos` label, the message is out of scope.

A trained model is saved as one NumPy `.npz` of plain arrays (coefficients, IDF weights) and
a JSON document (vocabularies, labels, thresholds) stored as bytes: loading never unpickles,
so a model file cannot execute code.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

from kefu.core import text_encoder

OOS = "oos"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class FeatureConfig:
    """Feature shape. The defaults suit short bilingual support messages (single Han
    characters matter); `BENCHMARK_FEATURES` suits larger English sets such as banking77."""

    char_ngrams: tuple[int, int] = (1, 4)
    embedding_weight: float = 1.0
    use_embeddings: bool = True


BENCHMARK_FEATURES = FeatureConfig(char_ngrams=(2, 5), embedding_weight=2.0)

Encoder = Callable[[Sequence[str]], NDArray[np.float32]]


def _word_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="word", ngram_range=(1, 2), sublinear_tf=True, lowercase=True, min_df=1
    )


def _char_vectorizer(ngrams: tuple[int, int]) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=ngrams, sublinear_tf=True, lowercase=True, min_df=1
    )


def _restore_vectorizer(
    vectorizer: TfidfVectorizer, vocabulary: dict[str, int], idf: NDArray[np.float64]
) -> TfidfVectorizer:
    vectorizer.vocabulary_ = vocabulary
    vectorizer.idf_ = idf
    return vectorizer


@dataclass(frozen=True)
class Prediction:
    label: str  # the intent, or "oos" when out of scope
    confidence: float  # calibrated probability that `top_label` is right
    top_label: str  # the best-scoring intent before out-of-scope rules
    in_scope: bool


class IntentClassifier:
    def __init__(
        self,
        *,
        labels: list[str],
        word: TfidfVectorizer,
        char: TfidfVectorizer,
        coef: NDArray[np.float64],
        intercept: NDArray[np.float64],
        calibration: tuple[float, float, float],
        threshold: float,
        config: FeatureConfig,
        encoder: Encoder | None = None,
    ) -> None:
        self.labels = labels
        self.word = word
        self.char = char
        self.coef = coef
        # Row-major (features x intents) once: multiplying a sparse row by the transposed view
        # would copy the whole weight matrix on every call (scipy ravels it to C order).
        self._weights = np.ascontiguousarray(coef.T)
        self.intercept = intercept
        self.calibration = calibration
        self.threshold = threshold
        self.config = config
        self._encoder: Encoder = encoder or text_encoder.encode

    # --- training --------------------------------------------------------------------------

    @classmethod
    def train(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        config: FeatureConfig | None = None,
        c: float = 1.0,
        holdout: float = 0.15,
        seed: int = 7,
        encoder: Encoder | None = None,
        embeddings: NDArray[np.float32] | None = None,
    ) -> IntentClassifier:
        """Fit on a held-out split first to calibrate confidence and tune the out-of-scope
        threshold, then refit on everything (the calibration carries over)."""
        if len(texts) != len(labels) or not texts:
            raise ValueError("texts and labels must be non-empty and of equal length")
        config = config or FeatureConfig()
        encode = encoder or text_encoder.encode
        texts = list(texts)
        y = np.asarray(labels)
        dense = None
        if config.use_embeddings:
            if embeddings is not None:
                dense = embeddings
            elif encoder is None:
                dense = _cached_embeddings(texts)
            else:
                dense = encode(texts)
        index = np.arange(len(texts))
        counts = {label: int((y == label).sum()) for label in set(y)}
        stratify = y if min(counts.values()) >= 2 else None
        fit_idx, held_idx = train_test_split(
            index, test_size=holdout, random_state=seed, stratify=stratify
        )
        probe = cls._fit(texts, y, dense, fit_idx, c, config, encode)
        held_texts = [texts[i] for i in held_idx]
        held_dense = dense[held_idx] if dense is not None else None
        scores = probe.scores(held_texts, held_dense)
        top = scores.argmax(axis=1)
        correct = np.array(
            [probe.labels[t] == y[i] and y[i] != OOS for t, i in zip(top, held_idx, strict=True)]
        )
        features = _confidence_features(scores)
        if correct.all() or not correct.any():
            calibration = (0.0, 0.0, 4.0 if correct.all() else -4.0)
        else:
            calibrator = LogisticRegression(C=10.0).fit(features, correct)
            calibration = (
                float(calibrator.coef_[0][0]),
                float(calibrator.coef_[0][1]),
                float(calibrator.intercept_[0]),
            )
        probability = _sigmoid(features @ np.array(calibration[:2]) + calibration[2])
        threshold = _best_threshold(probability, correct)
        final = cls._fit(texts, y, dense, index, c, config, encode)
        final.calibration = calibration
        final.threshold = threshold
        return final

    @classmethod
    def _fit(
        cls,
        texts: list[str],
        y: NDArray[Any],
        dense: NDArray[np.float32] | None,
        idx: NDArray[np.int64],
        c: float,
        config: FeatureConfig,
        encode: Encoder,
    ) -> IntentClassifier:
        word, char = _word_vectorizer(), _char_vectorizer(config.char_ngrams)
        subset = [texts[i] for i in idx]
        blocks = [word.fit_transform(subset), char.fit_transform(subset)]
        if dense is not None:
            blocks.append(sp.csr_matrix(dense[idx] * config.embedding_weight))
        model = LinearSVC(C=c, max_iter=5000).fit(sp.hstack(blocks).tocsr(), y[idx])
        labels = [str(label) for label in model.classes_]
        coef = np.asarray(model.coef_, dtype=np.float64)
        intercept = np.asarray(model.intercept_, dtype=np.float64)
        if len(labels) == 2:  # binary LinearSVC keeps one row; make it one row per label
            coef = np.vstack([-coef[0], coef[0]])
            intercept = np.array([-intercept[0], intercept[0]])
        return cls(
            labels=labels,
            word=word,
            char=char,
            coef=coef,
            intercept=intercept,
            calibration=(0.0, 0.0, 0.0),
            threshold=0.0,
            config=config,
            encoder=encode,
        )

    # --- prediction ------------------------------------------------------------------------

    def features(self, texts: Sequence[str], dense: NDArray[np.float32] | None = None) -> Any:
        blocks = [self.word.transform(texts), self.char.transform(texts)]
        if self.config.use_embeddings:
            vectors = dense if dense is not None else self._encoder(list(texts))
            blocks.append(sp.csr_matrix(vectors * self.config.embedding_weight))
        return sp.hstack(blocks).tocsr()

    def scores(
        self, texts: Sequence[str], dense: NDArray[np.float32] | None = None
    ) -> NDArray[np.float64]:
        result: NDArray[np.float64] = np.asarray(
            self.features(texts, dense) @ self._weights + self.intercept
        )
        return result

    def predict_many(
        self, texts: Sequence[str], dense: NDArray[np.float32] | None = None
    ) -> list[Prediction]:
        if not texts:
            return []
        scores = self.scores(texts, dense)
        a, b, bias = self.calibration
        probability = _sigmoid(_confidence_features(scores) @ np.array([a, b]) + bias)
        out: list[Prediction] = []
        for row, p in zip(scores.argmax(axis=1), probability, strict=True):
            top = self.labels[int(row)]
            in_scope = bool(top != OOS and p >= self.threshold)
            out.append(Prediction(top if in_scope else OOS, float(p), top, in_scope))
        return out

    def predict(self, text: str) -> Prediction:
        return self.predict_many([text])[0]

    # --- persistence (no pickle) -----------------------------------------------------------

    def save(self, path: Path) -> None:
        """Atomically: concurrent processes training at once never see half a file."""
        meta = {
            "format": FORMAT_VERSION,
            "labels": self.labels,
            "word_vocabulary": {k: int(v) for k, v in self.word.vocabulary_.items()},
            "char_vocabulary": {k: int(v) for k, v in self.char.vocabulary_.items()},
            "calibration": list(self.calibration),
            "threshold": self.threshold,
            "char_ngrams": list(self.config.char_ngrams),
            "use_embeddings": self.config.use_embeddings,
            "embedding_weight": self.config.embedding_weight,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez_compressed(
                    handle,
                    meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
                    coef=self.coef.astype(np.float32),
                    intercept=self.intercept,
                    word_idf=self.word.idf_,
                    char_idf=self.char.idf_,
                )
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, encoder: Encoder | None = None) -> IntentClassifier:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode("utf-8"))
            if meta.get("format") != FORMAT_VERSION:
                raise ValueError(f"unsupported intent model format {meta.get('format')!r}")
            a, b, bias = (float(x) for x in meta["calibration"])
            low, high = (int(n) for n in meta["char_ngrams"])
            config = FeatureConfig(
                char_ngrams=(low, high),
                embedding_weight=float(meta["embedding_weight"]),
                use_embeddings=bool(meta["use_embeddings"]),
            )
            word = _restore_vectorizer(
                _word_vectorizer(), meta["word_vocabulary"], data["word_idf"]
            )
            char = _restore_vectorizer(
                _char_vectorizer(config.char_ngrams), meta["char_vocabulary"], data["char_idf"]
            )
            return cls(
                labels=[str(label) for label in meta["labels"]],
                word=word,
                char=char,
                coef=np.asarray(data["coef"], dtype=np.float64),
                intercept=np.asarray(data["intercept"], dtype=np.float64),
                calibration=(a, b, bias),
                threshold=float(meta["threshold"]),
                config=config,
                encoder=encoder,
            )


def _confidence_features(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    ordered = np.sort(scores, axis=1)
    top = ordered[:, -1]
    margin = top - ordered[:, -2] if scores.shape[1] > 1 else top
    return np.column_stack([top, margin])


def _sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    result: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))
    return result


def _best_threshold(probability: NDArray[np.float64], correct: NDArray[np.bool_]) -> float:
    """The cut that best separates right answers (accept) from wrong or out-of-scope ones
    (refuse) on held-out data; ties go to the lower threshold (answer more)."""
    best, best_score = 0.5, -1.0
    for candidate in np.linspace(0.05, 0.95, 91):
        accept = probability >= candidate
        score = float((accept == correct).mean())
        if score > best_score + 1e-9:
            best, best_score = float(candidate), score
    return min(best, 0.5)


# Training texts seen before in this process are not embedded again: retraining (tests, the
# calibration split, `kefu bot train` after a data edit) then costs the linear model only.
_EMBEDDING_CACHE: dict[str, NDArray[np.float32]] = {}
_EMBEDDING_CACHE_MAX = 50_000


def _cached_embeddings(texts: list[str]) -> NDArray[np.float32]:
    missing = list(dict.fromkeys(t for t in texts if t not in _EMBEDDING_CACHE))
    if missing:
        vectors = text_encoder.encode(missing)
        if len(_EMBEDDING_CACHE) + len(missing) > _EMBEDDING_CACHE_MAX:
            _EMBEDDING_CACHE.clear()
        _EMBEDDING_CACHE.update(zip(missing, vectors, strict=True))
        if any(t not in _EMBEDDING_CACHE for t in texts):  # cache was cleared mid-way
            return text_encoder.encode(texts)
    return np.vstack([_EMBEDDING_CACHE[t] for t in texts]).astype(np.float32)


# --- the process-wide model ------------------------------------------------------------------

_lock = threading.Lock()
_loaded: dict[str, tuple[float, IntentClassifier]] = {}


def load_cached(path: Path) -> IntentClassifier:
    """Loaded once per process (and again only if the file is replaced)."""
    key = str(path.resolve())
    mtime = path.stat().st_mtime
    with _lock:
        hit = _loaded.get(key)
        if hit is not None and hit[0] == mtime:
            return hit[1]
        model = IntentClassifier.load(path)
        _loaded[key] = (mtime, model)
        return model


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start
