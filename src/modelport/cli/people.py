"""``modelport users`` and ``modelport tokens``: the teachers and operators, and the API
tokens of programs. Visitors need neither."""

from __future__ import annotations

import sys

import click

from modelport.config import Settings
from modelport.store import Store
from modelport.store import people as pp

ROLE = click.Choice(pp.STAFF)


def _store() -> Store:
    store = Store(Settings.from_env().database)
    store.upgrade()
    return store


def _when(moment) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


@click.group("users")
def users_command() -> None:
    """People who sign in at /auth/login: teachers and operators."""


@users_command.command("create")
@click.argument("name")
@click.option("--role", type=ROLE, required=True, help="teacher or operator")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (one line)."
)
def create_user_command(name: str, role: str, password_stdin: bool) -> None:
    """Add a person who signs in with NAME and a password (asked for, or from stdin).

    Teachers see every prediction and their corrections are learned at once; operators
    also review visitors' suggestions.
    """
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = pp.create_user(_store(), name, role, password)
    except pp.PeopleError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{user.name} can sign in as {user.role}")


@users_command.command("list")
def list_users_command() -> None:
    """The people who can sign in."""
    rows = pp.list_users(_store())
    click.echo(f"{'NAME':<24} {'ROLE':<9} CREATED")
    for row in rows:
        click.echo(f"{row.name:<24} {row.role:<9} {_when(row.created_at)}")


@users_command.command("delete")
@click.argument("name")
def delete_user_command(name: str) -> None:
    """Remove a person (their signed-in sessions end with their next request)."""
    if not pp.delete_user(_store(), name):
        raise click.ClickException(f"there is no user named {name!r}")
    click.echo(f"{name} removed")


@click.group("tokens")
def tokens_command() -> None:
    """API tokens for programs: sent as 'Authorization: Bearer <token>'."""


@tokens_command.command("create")
@click.option("--role", type=ROLE, required=True, help="teacher or operator")
@click.option("--name", default=None, help="What the token is for (default: the role).")
def create_token_command(role: str, name: str | None) -> None:
    """Make a token; it is printed once, alone on the last line (only its hash is kept)."""
    try:
        row, token = pp.create_token(_store(), role, name)
    except pp.PeopleError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"token {row.id} ({row.name}, {row.role}): keep it now, it is not shown again")
    click.echo(token)


@tokens_command.command("list")
def list_tokens_command() -> None:
    """Every token: id, name, role, its first characters, when made and revoked."""
    rows = pp.list_tokens(_store())
    click.echo(f"{'ID':>4} {'NAME':<20} {'ROLE':<9} {'STARTS':<10} {'CREATED':<17} REVOKED")
    for row in rows:
        click.echo(
            f"{row.id:>4} {row.name:<20} {row.role:<9} {row.prefix:<10} "
            f"{_when(row.created_at):<17} {_when(row.revoked_at)}"
        )


@tokens_command.command("revoke")
@click.argument("token_id", type=int)
def revoke_token_command(token_id: int) -> None:
    """Revoke token TOKEN_ID (see 'modelport tokens list'): it is refused from then on."""
    row = pp.revoke_token(_store(), token_id)
    if row is None:
        raise click.ClickException(f"there is no token {token_id}")
    click.echo(f"token {row.id} ({row.name}) revoked")
