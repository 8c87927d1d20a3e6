"""Bearer tokens: stored only as SHA-256 hashes, bound to a role (and an organisation)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from events.schema import tokens

Role = Literal["secretariat", "auditor", "applicant"]
ROLES: tuple[Role, ...] = ("secretariat", "auditor", "applicant")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the token's id, name, role and (for applicants) organisation."""

    token_id: str
    name: str
    role: Role
    org: str | None = None

    def actor(self) -> dict[str, str]:
        return {"id": self.token_id, "name": self.name, "role": self.role}


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: str
    name: str
    role: str
    org: str | None
    created_at: datetime
    revoked_at: datetime | None


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_token(engine: AsyncEngine, role: Role, name: str, org: str | None) -> str:
    """Store a new token's hash and give back the token, which is never stored."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role == "applicant" and not org:
        raise ValueError("an applicant token is bound to an organisation: pass --org")
    if role != "applicant" and org:
        raise ValueError("only applicant tokens are bound to an organisation")
    token_id = "tok_" + secrets.token_hex(4)
    secret = f"dkt_{secrets.token_urlsafe(32)}"
    async with engine.begin() as conn:
        await conn.execute(
            tokens.insert().values(
                id=token_id,
                token_hash=hash_token(secret),
                role=role,
                org=org,
                name=name,
                created_at=datetime.now(UTC),
                revoked_at=None,
            )
        )
    return secret


async def list_tokens(engine: AsyncEngine) -> list[TokenRow]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(
                tokens.c.id,
                tokens.c.name,
                tokens.c.role,
                tokens.c.org,
                tokens.c.created_at,
                tokens.c.revoked_at,
            ).order_by(tokens.c.created_at)
        )
        return [TokenRow(*row) for row in rows]


async def revoke_token(engine: AsyncEngine, token_id: str) -> bool:
    async with engine.begin() as conn:
        result = await conn.execute(
            tokens.update()
            .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        return bool(result.rowcount)


async def find_caller(engine: AsyncEngine, secret: str) -> Caller | None:
    """The live token with this secret, if any."""
    return await find_caller_by_hash(engine, hash_token(secret))


async def find_caller_by_hash(engine: AsyncEngine, digest: str) -> Caller | None:
    """The live token whose SHA-256 hex is `digest`, if any."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(tokens.c.id, tokens.c.name, tokens.c.role, tokens.c.org).where(
                    tokens.c.token_hash == digest, tokens.c.revoked_at.is_(None)
                )
            )
        ).first()
    if row is None:
        return None
    return Caller(token_id=row.id, name=row.name, role=row.role, org=row.org)
