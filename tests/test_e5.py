import numpy as np
import pytest

from pipeline.text import e5


@pytest.mark.slow
def test_a_repeated_sentence_is_embedded_once_and_identically(monkeypatch):
    embedder = e5.shared_embedder()
    calls = []
    real_query = embedder._model.query
    monkeypatch.setattr(embedder._model, "query", lambda texts: calls.append(list(texts)) or real_query(texts))
    text = "캐시 시험용 문장이에요 3141"
    first = embedder.embed_queries([text])
    first[0, 0] = 99.0  # a caller changing its copy must not change what is remembered
    second = embedder.embed_queries([text])
    assert calls == [[text]]
    assert second[0, 0] != 99.0
    batch = embedder.embed_queries([text, "다른 문장"])
    assert len(calls) == 2, "batches are always computed"
    np.testing.assert_allclose(batch[0], second[0], atol=1e-5)
