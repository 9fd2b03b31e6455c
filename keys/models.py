"""The tool's own RSA signing keys. A key moves next -> active -> retired, never back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.db import UTCDateTime, db, utcnow

NEXT = "next"
ACTIVE = "active"
RETIRED = "retired"


def _one_in_state(state: str) -> Index:
    # A partial unique index, so two processes creating or promoting keys at once cannot both win.
    where = text(f"state = '{state}'")
    return Index(
        f"uq_tool_keys_one_{state}",
        "state",
        unique=True,
        sqlite_where=where,
        postgresql_where=where,
    )


class ToolKey(db.Model):
    __tablename__ = "tool_keys"
    __table_args__ = (_one_in_state(ACTIVE), _one_in_state(NEXT))

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(100), unique=True)
    state: Mapped[str] = mapped_column(String(10), index=True)
    public_pem: Mapped[str] = mapped_column(Text)
    # The PKCS#8 private key, encrypted with Fernet under KEY_ENCRYPTION_KEY.
    private_pem_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<ToolKey {self.kid} {self.state}>"
