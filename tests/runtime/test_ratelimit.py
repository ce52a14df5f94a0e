from __future__ import annotations

import pytest

from runtime.auth import KeyStore
from runtime.ratelimit import TokenBucket


def test_bucket_allows_the_rate_then_says_when_to_retry() -> None:
    now = [0.0]
    bucket = TokenBucket(60, clock=lambda: now[0])  # one per second, bursts of 60
    assert all(bucket.take("a") == 0 for _ in range(60))
    assert bucket.take("a") == pytest.approx(1.0)
    assert bucket.take("b") == 0  # keys are independent
    now[0] = 1.0
    assert bucket.take("a") == 0


def test_keys_are_identified_without_storing_them() -> None:
    store = KeyStore(["alpha", "beta"])
    assert store.identify("beta") is not None
    assert store.identify("alpha") != store.identify("beta")
    assert store.identify("gamma") is None
    assert "alpha" not in repr(vars(store))


def test_an_empty_key_store_is_refused() -> None:
    with pytest.raises(ValueError, match="no API keys"):
        KeyStore([])
