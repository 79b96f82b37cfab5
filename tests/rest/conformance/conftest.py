"""Fixtures of the PostgREST conformance suite: one `performer serve` node per test module,
started on the migrations next to this file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import start_serving
from supabase import Client

from .wire import Wire

MIGRATIONS = Path(__file__).parent / "migrations"


@pytest.fixture(scope="module")
def wire(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wire]:
    running = start_serving(
        tmp_path_factory.mktemp("conformance") / "data", "--migrations", str(MIGRATIONS)
    )
    try:
        yield Wire(running)
    finally:
        running.stop()
        if running.proc.stdout is not None:
            running.proc.stdout.close()


@pytest.fixture(scope="module")
def client(wire: Wire) -> Client:
    return wire.client
