"""Fixtures of the tests that need the real Redis (and real web and worker processes)."""

import pytest
import redis as redis_lib

from tests.live import require_redis


@pytest.fixture
def redis_url():
    """The test Redis, emptied (skipped, or failed in CI, when it is not reachable)."""
    url = require_redis()
    redis_lib.Redis.from_url(url).flushdb()
    return url
