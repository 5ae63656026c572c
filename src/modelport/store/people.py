"""Who is asking: visitors (no account), teachers and operators (people who sign in with a
password, or programs with an API token).

Passwords are kept as werkzeug.security's salted, slow hashes. API tokens are long and
random (256 bits), so one SHA-256 of each is enough to keep: a leaked database gives no
token back, and looking a token up costs one indexed query.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from modelport.store.db import Store
from modelport.store.tables import NAME_LENGTH, TokenRow, UserRow

VISITOR, TEACHER, OPERATOR = "visitor", "teacher", "operator"
ROLES = (VISITOR, TEACHER, OPERATOR)  # each can do what the ones before it can
STAFF = (TEACHER, OPERATOR)
TOKEN_PREFIX = "mp_"
MIN_PASSWORD = 8
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")


class PeopleError(ValueError):
    """A name taken, a role or password refused: the message says which."""


@dataclass(frozen=True)
class Caller:
    """Who a request comes from. ``owner`` is what their predictions are stored under (a
    visitor's anonymous id from the session cookie, ``user:<name>``, ``token:<id>``)."""

    role: str = VISITOR
    name: str | None = None
    owner: str | None = None
    via: str = "anonymous"  # "anonymous", "session" (signed in) or "token"

    def at_least(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def is_staff(self) -> bool:
        """Teachers and operators: they see every prediction and their corrections count."""
        return self.role in STAFF

    @property
    def label(self) -> str:
        """How feedback records who gave it."""
        return self.owner or self.role


def check_role(role: str, allowed: tuple[str, ...] = STAFF) -> str:
    if role not in allowed:
        raise PeopleError(f"role must be one of {', '.join(allowed)}, not {role!r}")
    return role


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_LENGTH or not _NAME.match(name):
        raise PeopleError(
            f"a name is 1 to {NAME_LENGTH} letters, digits, '.', '_', '@' or '-' "
            f"(starting with a letter or digit), not {name!r}"
        )
    return name


# People ---------------------------------------------------------------------------------


def create_user(store: Store, name: str, role: str, password: str) -> UserRow:
    name, role = check_name(name), check_role(role)
    if len(password) < MIN_PASSWORD:
        raise PeopleError(f"the password must have at least {MIN_PASSWORD} characters")
    row = UserRow(
        name=name,
        role=role,
        password_hash=generate_password_hash(password),
        created_at=datetime.now(UTC),
    )
    try:
        with store.writing() as session:
            session.add(row)
    except IntegrityError:
        raise PeopleError(f"there is already a user named {name!r}") from None
    return row


def authenticate(store: Store, name: str, password: str) -> UserRow | None:
    """The user if the password is theirs; None otherwise (which, is not said)."""
    with store.session() as session:
        row = session.scalar(select(UserRow).where(UserRow.name == name.strip()))
    if row is None:
        check_password_hash(_dummy_hash(), password)  # as slow as a real check: no name probing
        return None
    return row if check_password_hash(row.password_hash, password) else None


def get_user(store: Store, user_id: int) -> UserRow | None:
    with store.session() as session:
        return session.get(UserRow, user_id)


def list_users(store: Store) -> list[UserRow]:
    with store.session() as session:
        return list(session.scalars(select(UserRow).order_by(UserRow.name)))


def delete_user(store: Store, name: str) -> bool:
    with store.writing() as session:
        row = session.scalar(select(UserRow).where(UserRow.name == name))
        if row is None:
            return False
        session.delete(row)
    return True


# API tokens -----------------------------------------------------------------------------


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: Store, role: str, name: str | None = None) -> tuple[TokenRow, str]:
    """A new token: its row (holding only the token's SHA-256) and the token, shown once."""
    role = check_role(role)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = TokenRow(
        name=check_name(name) if name else role,
        role=role,
        token_sha256=token_digest(token),
        prefix=token[: len(TOKEN_PREFIX) + 6],
        created_at=datetime.now(UTC),
    )
    with store.writing() as session:
        session.add(row)
    return row, token


def find_token(store: Store, token: str) -> TokenRow | None:
    """The live (not revoked) token row for a presented token."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    with store.session() as session:
        row = session.scalar(select(TokenRow).where(TokenRow.token_sha256 == token_digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def list_tokens(store: Store) -> list[TokenRow]:
    with store.session() as session:
        return list(session.scalars(select(TokenRow).order_by(TokenRow.id)))


def revoke_token(store: Store, token_id: int) -> TokenRow | None:
    with store.writing() as session:
        row = session.get(TokenRow, token_id)
        if row is not None and row.revoked_at is None:
            row.revoked_at = datetime.now(UTC)
    return row


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))
