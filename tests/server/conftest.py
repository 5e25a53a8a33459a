"""Fixtures for server tests: a temp data dir and an app (helpers in srv_helpers.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from server.config import Settings
from server.main import create_app


def pytest_collection_modifyitems(items):
    """A stream test that waits for a message that never comes must fail, not hang CI
    (needs pytest-timeout, in the test extra; without it the mark is ignored)."""
    for item in items:
        if "tests/server/" in str(item.fspath) and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(120))


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", metrics_hz=200, edges_hz=50, idle_evict_s=600, step_timeout_s=30
    )


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings)) as c:
        yield c
