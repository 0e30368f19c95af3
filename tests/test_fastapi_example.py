"""docs/examples/fastapi_service.py, served over HTTP and tested with the plugin (issue 10, 4-5).

FastAPI, httpx and uvicorn come from the ``web-tests`` extra (test-only).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="needs the web-tests extra (fastapi, httpx, uvicorn)")
import httpx

from gearbox_db import AsyncDatabase

EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"
sys.path.insert(0, str(EXAMPLES))
import fastapi_service  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(database_url: str) -> Iterator[str]:
    """The example app under uvicorn in a subprocess; yields its base URL."""
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(EXAMPLES)]
    command += ["fastapi_service:app", "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "DATABASE_URL": database_url}
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        log = []
        while "Application startup complete" not in (line := process.stderr.readline()):
            log.append(line)
            assert line, f"the app did not start: {''.join(log)}"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def _is_utc_iso(value: Any) -> bool:
    return datetime.fromisoformat(str(value)).utcoffset() is not None


@pytest.mark.slow
def test_the_example_serves_records_over_http(gearbox_empty_database_url: str) -> None:
    for _ in range(2):  # the second start finds the schema at head
        with serve(gearbox_empty_database_url) as base, httpx.Client(base_url=base) as client:
            name = f"Shelter {_}"
            created = client.post("/categories", json={"name": name, "icon": "tent"})
            assert created.status_code == 201, created.text
            category = created.json()
            assert _is_utc_iso(category["created_at"])
            body = {"name": "Tarp", "category_id": category["id"], "weight_grams": 310.5}
            item = client.post("/items", json=body).json()
            assert item["category_name"] == name
            assert client.get(f"/items/{item['id']}").json() == item
            page = client.get("/items", params={"search": "tarp"}).json()
            assert item in page["items"]
            assert client.post("/categories", json={"name": name}).status_code == 409
            assert client.get("/items/999999").status_code == 404
            listed = client.get("/categories").json()
            assert {c["name"] for c in listed} >= {name, "Uncategorized"}
            schema = client.get("/openapi.json").json()["components"]["schemas"]
            assert "category_name" in schema["Item"]["properties"]


@pytest.fixture
async def client(gearbox_async_db: AsyncDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process on the rolled-back test connection (no lifespan, no pool)."""
    app = fastapi_service.app
    app.dependency_overrides[fastapi_service.get_db] = lambda: gearbox_async_db
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        app.dependency_overrides.clear()


async def test_concurrent_requests_on_the_rolled_back_connection(
    client: httpx.AsyncClient,
) -> None:
    category = (await client.post("/categories", json={"name": "Cook"})).json()
    for round_ in range(3):
        posts = [
            client.post("/items", json={"name": f"Pot {round_}.{n}", "category_id": category["id"]})
            for n in range(5)
        ]
        gets = [client.get("/items", params={"search": "pot"}) for _ in range(5)]
        responses = await asyncio.gather(*posts, *gets)
        assert [r.status_code for r in responses] == [201] * 5 + [200] * 5, [
            r.text for r in responses
        ]
    page = (await client.get("/items", params={"search": "pot"})).json()
    assert len(page["items"]) == 15
