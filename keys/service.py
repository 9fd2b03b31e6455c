"""The tool's own signing keys: generation, encrypted storage, rotation, the public key set.

There is always one active key (it signs) and one next key (published ahead, so LMSs have it cached
before a rotation makes it active). Retired keys stay published for KEY_RETIRE_GRACE_SECONDS so
tokens signed just before a rotation still verify, then the next rotation deletes them.

Key creation and rotation commit in their own short transactions, apart from the caller's session:
a key must be committed before anything it signs leaves the tool, whatever the caller does next.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterator, Mapping

import jwt
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import current_app
from jwcrypto.jwk import JWK
from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keys.models import ACTIVE, NEXT, RETIRED, ToolKey
from lti_tool.db import db, utcnow

ALGORITHM = "RS256"
KEY_SIZE = 2048


class KeyEncryptionError(RuntimeError):
    """A stored private key cannot be decrypted with the configured KEY_ENCRYPTION_KEY."""


class RotationConflict(RuntimeError):
    """Another rotation changed the keys while this one ran; this one changed nothing."""


@dataclass(frozen=True)
class Rotation:
    active: ToolKey
    next: ToolKey
    retired: ToolKey
    deleted_kids: list[str]


# Bumped whenever this process changes the keys, so in-process caches refresh at once.
_generation = 0
# (kid, private key object) of the last key used to sign: decrypting and parsing PEM is the slow part.
_signing_key: tuple[str, rsa.RSAPrivateKey] | None = None
_lock = threading.Lock()


def generation() -> int:
    """Changes whenever this process changes the keys (or forgets its caches)."""
    return _generation


def forget_cached_keys() -> None:
    """Drop in-process copies of keys, as after the database was emptied under this process."""
    global _signing_key, _generation
    _signing_key = None
    _generation += 1


def generate_key(state: str) -> ToolKey:
    """A new RSA key in `state`, its private part encrypted; not yet added to any session."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    private_pem_bytes = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = utcnow()
    return ToolKey(
        # pylti1p3 derives the kid it puts in signed headers exactly this way (RFC 7638 thumbprint).
        kid=JWK.from_pem(public_pem).thumbprint(),
        state=state,
        public_pem=public_pem.decode("ascii"),
        private_pem_encrypted=_fernet().encrypt(private_pem_bytes),
        created_at=now,
        activated_at=now if state == ACTIVE else None,
    )


def private_pem(key: ToolKey) -> str:
    """The PKCS#8 PEM of `key`'s private part, decrypted."""
    try:
        return _fernet().decrypt(key.private_pem_encrypted).decode("ascii")
    except InvalidToken:
        raise KeyEncryptionError(
            f"The private key {key.kid} cannot be decrypted with the configured KEY_ENCRYPTION_KEY. "
            "Set KEY_ENCRYPTION_KEY to the value the keys were created with, or, if that value is "
            "lost, delete the tool keys and run `flask keys ensure` (LMSs then fetch the new JWKS)."
        ) from None


def ensure_keys() -> list[ToolKey]:
    """Create the active and next keys where missing; return the keys created (usually none)."""
    global _generation
    created: list[ToolKey] = []
    for state in (ACTIVE, NEXT):
        # A second try covers losing a race to another process and finding its key on re-reading.
        for _ in range(2):
            if _key_in_state(state) is not None:
                break
            # Generated outside the transaction: RSA generation takes a while.
            key = generate_key(state)
            with _own_session() as session:
                session.add(key)
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()
                    continue
            created.append(key)
            break
    if created:
        _generation += 1
    return created


def active_key() -> ToolKey:
    """The key that signs; keys are created on first use."""
    key = _key_in_state(ACTIVE)
    if key is None:
        ensure_keys()
        key = _key_in_state(ACTIVE)
    if key is None:
        raise RuntimeError("no active tool key after creating one; is the database writable?")
    return key


def list_keys() -> list[ToolKey]:
    """Every stored key: active, next, then retired ones, most recently retired first."""
    return list(db.session.scalars(select(ToolKey).order_by(*_publish_order())))


def rotate(now: datetime | None = None) -> Rotation:
    """Promote next to active, retire the old active key, make a new next key, and delete retired
    keys past their grace period, in one transaction. Raises RotationConflict if another rotation
    got there first."""
    global _generation
    now = now or utcnow()
    ensure_keys()
    new_next = generate_key(NEXT)
    new_next.created_at = now
    with _own_session() as session:
        try:
            old_active, promoted, deleted_kids = _rotate_in(session, now)
            session.add(new_next)
            session.commit()
        except (IntegrityError, RotationConflict):
            session.rollback()
            raise RotationConflict(
                "another rotation ran at the same time; this one changed nothing"
            ) from None
    _generation += 1
    return Rotation(active=promoted, next=new_next, retired=old_active, deleted_kids=deleted_kids)


def _rotate_in(session: Session, now: datetime) -> tuple[ToolKey, ToolKey, list[str]]:
    # One statement, so both keys come from the same snapshot.
    current = {
        key.state: key
        for key in session.scalars(select(ToolKey).where(ToolKey.state.in_((ACTIVE, NEXT))))
    }
    old_active, promoted = current.get(ACTIVE), current.get(NEXT)
    if old_active is None or promoted is None:
        raise RotationConflict()
    # Each update is guarded on the state just read, so a concurrent rotation makes it match
    # nothing. Order matters for the partial unique indexes: free the 'active' slot, then fill it.
    retired = session.execute(
        update(ToolKey)
        .where(ToolKey.id == old_active.id, ToolKey.state == ACTIVE)
        .values(state=RETIRED, retired_at=now)
    )
    if retired.rowcount != 1:
        raise RotationConflict()
    activated = session.execute(
        update(ToolKey)
        .where(ToolKey.id == promoted.id, ToolKey.state == NEXT)
        .values(state=ACTIVE, activated_at=now)
    )
    if activated.rowcount != 1:
        raise RotationConflict()
    expired = _expired_condition(now)
    deleted_kids = list(session.scalars(select(ToolKey.kid).where(expired)))
    session.execute(delete(ToolKey).where(expired))
    return old_active, promoted, deleted_kids


def published_kids(now: datetime | None = None) -> tuple[str, ...]:
    """The kids `public_jwks` serves, in its order; a cheap query to notice changes."""
    now = now or utcnow()
    rows = db.session.execute(
        select(ToolKey.kid).where(_published_condition(now)).order_by(*_publish_order())
    )
    return tuple(rows.scalars())


def public_jwks(now: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """The JWKS LMSs verify our tokens with: active, next, and retired keys within grace."""
    now = now or utcnow()
    keys = _published_keys(now)
    if not any(key.state == ACTIVE for key in keys):
        # Published before the first signature, so an LMS never caches a set without our key.
        ensure_keys()
        keys = _published_keys(now)
    return {"keys": [public_jwk(key) for key in keys]}


def public_jwk(key: ToolKey) -> dict[str, Any]:
    jwk = JWK.from_pem(key.public_pem.encode("ascii")).export_public(as_dict=True)
    return {
        "kid": key.kid,
        "kty": jwk["kty"],
        "n": jwk["n"],
        "e": jwk["e"],
        "alg": ALGORITHM,
        "use": "sig",
    }


def sign(payload: Mapping[str, Any], headers: Mapping[str, Any] | None = None) -> str:
    """An RS256 JWT of `payload`, signed with the active key and naming it in the `kid` header."""
    kid, private = _signing_private_key()
    return jwt.encode(dict(payload), private, algorithm=ALGORITHM, headers={**(headers or {}), "kid": kid})


def _signing_private_key() -> tuple[str, rsa.RSAPrivateKey]:
    global _signing_key
    key = active_key()
    cached = _signing_key
    if cached is not None and cached[0] == key.kid:
        return cached
    with _lock:
        private = serialization.load_pem_private_key(private_pem(key).encode("ascii"), password=None)
        assert isinstance(private, rsa.RSAPrivateKey)
        _signing_key = (key.kid, private)
        return _signing_key


def _fernet() -> Fernet:
    return Fernet(current_app.config["SETTINGS"].KEY_ENCRYPTION_KEY.encode())


@contextmanager
def _own_session() -> Iterator[Session]:
    session = Session(bind=db.engine, expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()


def _key_in_state(state: str) -> ToolKey | None:
    return db.session.scalars(select(ToolKey).where(ToolKey.state == state)).first()


def _grace_cutoff(now: datetime) -> datetime:
    return now - timedelta(seconds=current_app.config["SETTINGS"].KEY_RETIRE_GRACE_SECONDS)


def _expired_condition(now: datetime):
    return (ToolKey.state == RETIRED) & (ToolKey.retired_at <= _grace_cutoff(now))


def _published_condition(now: datetime):
    return or_(
        ToolKey.state.in_((ACTIVE, NEXT)),
        (ToolKey.state == RETIRED) & (ToolKey.retired_at > _grace_cutoff(now)),
    )


def _publish_order():
    # Active first: some consumers try the first key before looking at kids.
    rank = case((ToolKey.state == ACTIVE, 0), (ToolKey.state == NEXT, 1), else_=2)
    return rank, ToolKey.retired_at.desc(), ToolKey.id.desc()


def _published_keys(now: datetime) -> list[ToolKey]:
    return list(
        db.session.scalars(select(ToolKey).where(_published_condition(now)).order_by(*_publish_order()))
    )
