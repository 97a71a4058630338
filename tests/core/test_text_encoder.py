"""The bundled sentence encoder works offline and puts paraphrases near each other."""

from __future__ import annotations

import numpy as np

from kefu.core import text_encoder


def test_paraphrases_are_closer_than_unrelated_sentences() -> None:
    vectors = text_encoder.encode(
        [
            "My deposit has not arrived in my account",
            "I sent coins but the deposit is not credited",
            "What is the weather like in Paris?",
        ]
    )
    assert vectors.shape == (3, text_encoder.DIMENSION)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    related = float(vectors[0] @ vectors[1])
    unrelated = float(vectors[0] @ vectors[2])
    assert related > 0.5 > unrelated


def test_empty_input_gives_an_empty_matrix() -> None:
    assert text_encoder.encode([]).shape == (0, text_encoder.DIMENSION)
