"""A small key-value store with expiry: Redis when configured, the database in embedded mode.

It holds what must be shared by every web process but need not live forever: launch data found by
launch id, OIDC login states, used nonces, copies of platform key sets. Values are JSON.
The operations that guard security (`add` for single-use nonces, `pop` for single-use states)
are atomic in both backends.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any, Protocol

import redis
from flask import Flask, current_app
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from lti_tool.db import db, utcnow
from lti_tool.models import CacheEntry


class Cache(Protocol):
    def get(self, key: str) -> Any | None: ...
    def set(self, key: str, value: Any, ttl: int) -> None: ...
    def add(self, key: str, value: Any, ttl: int) -> bool: ...
    def pop(self, key: str) -> Any | None: ...
    def delete(self, key: str) -> None: ...


class RedisCache:
    def __init__(self, client: redis.Redis, prefix: str):
        self.client = client
        self.prefix = prefix

    def get(self, key: str) -> Any | None:
        raw = self.client.get(self.prefix + key)
        return None if raw is None else json.loads(raw)

    def set(self, key: str, value: Any, ttl: int) -> None:
        self.client.set(self.prefix + key, json.dumps(value), ex=max(int(ttl), 1))

    def add(self, key: str, value: Any, ttl: int) -> bool:
        return bool(self.client.set(self.prefix + key, json.dumps(value), ex=max(int(ttl), 1), nx=True))

    def pop(self, key: str) -> Any | None:
        raw = self.client.getdel(self.prefix + key)
        return None if raw is None else json.loads(raw)

    def delete(self, key: str) -> None:
        self.client.delete(self.prefix + key)


class DatabaseCache:
    """Each operation runs in its own short transaction, apart from the caller's ORM session."""

    PURGE_ONE_IN = 200

    def get(self, key: str) -> Any | None:
        with db.engine.connect() as conn:
            row = conn.execute(
                select(CacheEntry.value, CacheEntry.expires_at).where(CacheEntry.key == key)
            ).first()
        if row is None or row[1] <= utcnow():
            return None
        return row[0]

    def set(self, key: str, value: Any, ttl: int) -> None:
        expires = utcnow() + timedelta(seconds=ttl)
        with db.engine.begin() as conn:
            conn.execute(delete(CacheEntry).where(CacheEntry.key == key))
            conn.execute(insert(CacheEntry).values(key=key, value=value, expires_at=expires))
        self._maybe_purge()

    def add(self, key: str, value: Any, ttl: int) -> bool:
        expires = utcnow() + timedelta(seconds=ttl)
        for _ in range(2):
            try:
                with db.engine.begin() as conn:
                    conn.execute(insert(CacheEntry).values(key=key, value=value, expires_at=expires))
                return True
            except IntegrityError:
                # Taken, unless the holder has expired: clear it and try once more.
                with db.engine.begin() as conn:
                    gone = conn.execute(
                        delete(CacheEntry).where(
                            CacheEntry.key == key, CacheEntry.expires_at <= utcnow()
                        )
                    ).rowcount
                if not gone:
                    return False
        return False

    def pop(self, key: str) -> Any | None:
        with db.engine.begin() as conn:
            row = conn.execute(
                delete(CacheEntry)
                .where(CacheEntry.key == key)
                .returning(CacheEntry.value, CacheEntry.expires_at)
            ).first()
        if row is None or row[1] <= utcnow():
            return None
        return row[0]

    def delete(self, key: str) -> None:
        with db.engine.begin() as conn:
            conn.execute(delete(CacheEntry).where(CacheEntry.key == key))

    def _maybe_purge(self) -> None:
        if random.randrange(self.PURGE_ONE_IN) == 0:
            with db.engine.begin() as conn:
                conn.execute(delete(CacheEntry).where(CacheEntry.expires_at <= utcnow()))


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
        app.extensions["lti_redis"] = client
        app.extensions["lti_cache"] = RedisCache(client, settings.REDIS_KEY_PREFIX + "cache:")
    else:
        app.extensions["lti_redis"] = None
        app.extensions["lti_cache"] = DatabaseCache()


def cache() -> Cache:
    return current_app.extensions["lti_cache"]


def redis_client() -> redis.Redis | None:
    return current_app.extensions["lti_redis"]
