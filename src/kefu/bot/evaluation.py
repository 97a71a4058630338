"""Measuring an intent model on a labelled CSV (text,label): `kefu bot eval` and the bench.

When the data has an `oos` label, accuracy counts the out-of-scope rule (a message the bot
should refuse is right only when refused), and out-of-scope recall is reported. When it has
none, every message is in scope by construction: accuracy is that of the best-scoring intent,
and `answered` says how many the bot would have answered rather than handed to a person.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from kefu.bot.classifier import OOS, IntentClassifier

T = TypeVar("T")


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    language: str | None = None


def read_examples(path: Path) -> list[Example]:
    """A CSV with a header naming `text` and `label` (or `category`, as banking77 does)."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        label_field = "label" if "label" in fields else "category"
        if "text" not in fields or label_field not in fields:
            raise ValueError(f"{path}: the header must name the columns text and label")
        examples = [
            Example(row["text"].strip(), row[label_field].strip(), row.get("language") or None)
            for row in reader
            if (row.get("text") or "").strip() and (row.get(label_field) or "").strip()
        ]
    if not examples:
        raise ValueError(f"{path}: no examples")
    return examples


@dataclass(frozen=True)
class Report:
    examples: int
    accuracy: float
    macro_f1: float
    top_label_accuracy: float
    answered: float  # share the bot would answer itself (not out of scope)
    oos_recall: float | None  # None when the data has no oos label
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None


def _progress(
    items: Sequence[T], enabled: bool, description: str, unit: str = "msg"
) -> Iterable[T]:
    if not enabled:
        return items
    from tqdm import tqdm

    bar: Iterable[T] = tqdm(items, desc=description, unit=unit, leave=False)
    return bar


def _batches(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def evaluate(
    model: IntentClassifier,
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    progress: bool = False,
    batch_size: int = 256,
) -> Report:
    predictions = []
    batches = list(_batches(list(texts), batch_size))
    for batch in _progress(batches, progress, f"classifying ({batch_size} a batch)", "batch"):
        predictions.extend(model.predict_many(batch))
    has_oos = OOS in set(labels)
    top = [p.top_label for p in predictions]
    final = [p.label for p in predictions] if has_oos else top
    oos_recall = None
    if has_oos:
        oos_rows = [i for i, label in enumerate(labels) if label == OOS]
        oos_recall = sum(predictions[i].label == OOS for i in oos_rows) / len(oos_rows)
    return Report(
        examples=len(texts),
        accuracy=float(accuracy_score(labels, final)),
        macro_f1=float(f1_score(labels, final, average="macro", zero_division=0)),
        top_label_accuracy=float(accuracy_score(labels, top)),
        answered=sum(p.in_scope for p in predictions) / max(len(predictions), 1),
        oos_recall=oos_recall,
    )


def latency_ms(
    model: IntentClassifier, texts: Sequence[str], *, progress: bool = False, warmup: int = 10
) -> tuple[float, float]:
    """p50 and p99 of classifying one message at a time, as the chat does."""
    for text in texts[:warmup]:
        model.predict(text)
    timings = []
    for text in _progress(list(texts), progress, "latency"):
        start = time.perf_counter()
        model.predict(text)
        timings.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(timings, 50)), float(np.percentile(timings, 99))
