"""An async GearBox web API on FastAPI and gearbox_db (docs/service.md walks through it).

Run it against any PostgreSQL (it migrates at startup; every start is safe)::

    pip install fastapi uvicorn
    DATABASE_URL=postgresql://... uvicorn --app-dir docs/examples fastapi_service:app

Records are returned as they are: ``response_model(Item)`` is their pydantic
twin, and library errors become HTTP statuses in one exception handler.
Tests replace :func:`get_db` (tests/test_fastapi_example.py).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gearbox_db import (
    AsyncDatabase,
    ConflictError,
    GearboxDBError,
    InvalidReferenceError,
    NotFoundError,
    ValidationError,
    migrations,
)
from gearbox_db.records import Category, CategorySummary, Item, ItemPage
from gearbox_db.web import response_model

_STATUS = {
    NotFoundError: 404,
    ConflictError: 409,
    InvalidReferenceError: 422,
    ValidationError: 422,
}


class NewCategory(BaseModel):
    """Body of ``POST /categories``."""

    name: str
    icon: str = "package"


class NewItem(BaseModel):
    """Body of ``POST /items``."""

    name: str
    category_id: int
    weight_grams: float | None = None
    price_cents: int | None = None


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Startup: migrate, then open the pool; shutdown: close it."""
    url = os.environ["DATABASE_URL"]
    await migrations.aupgrade(url)  # serialised between replicas; a no-op at head
    async with AsyncDatabase.connect(url, pool_size=5) as db:
        app.state.db = db
        yield


def get_db(request: Request) -> AsyncDatabase:
    """The service's database (tests override this dependency)."""
    db: AsyncDatabase = request.app.state.db
    return db


DB = Annotated[AsyncDatabase, Depends(get_db)]
app = FastAPI(title="GearBox example", lifespan=lifespan)


@app.exception_handler(GearboxDBError)
async def library_error(request: Request, exc: GearboxDBError) -> JSONResponse:
    """A library error as an HTTP status (500 for the unexpected ones)."""
    status = next((code for cls, code in _STATUS.items() if isinstance(exc, cls)), 500)
    return JSONResponse({"detail": str(exc) if status < 500 else "internal error"}, status)


@app.post("/categories", status_code=201, response_model=response_model(Category))
async def create_category(body: NewCategory, db: DB) -> Category:
    """Create a category."""
    return await db.categories.create(name=body.name, icon=body.icon)


@app.get("/categories", response_model=list[response_model(CategorySummary)])  # type: ignore[misc]
async def list_categories(db: DB) -> tuple[CategorySummary, ...]:
    """Every category with its figures."""
    return await db.categories.list()


@app.post("/items", status_code=201, response_model=response_model(Item))
async def create_item(body: NewItem, db: DB) -> Item:
    """Add an item to the collection."""
    return await db.items.create(**body.model_dump())


@app.get("/items/{item_id}", response_model=response_model(Item))
async def get_item(item_id: int, db: DB) -> Item:
    """One item (404 when there is none)."""
    return await db.items.get(item_id)


@app.get("/items", response_model=response_model(ItemPage))
async def list_items(db: DB, search: str | None = None, cursor: str | None = None) -> ItemPage:
    """A page of the collection."""
    return await db.items.list(search=search, cursor=cursor)
