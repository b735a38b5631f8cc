"""``retain serve`` and ``retain user``.

``serve`` migrates the app database and runs the service; ``user`` manages accounts and
API keys, written to the audit log as done from the command line).
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Annotated

import typer
from rich.table import Table

from retain.cli._app import app, console, settings
from retain.errors import InvalidParameterError
from retain.i18n import format_datetime, t

__all__ = ["serve", "user_app"]

user_app = typer.Typer(no_args_is_help=True, help="Dashboard users and API keys.")
key_app = typer.Typer(no_args_is_help=True, help="API keys for machines.")
user_app.add_typer(key_app, name="key")
app.add_typer(user_app, name="user")

ROLE_HELP = "admin, analyst, agent or ingest."


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on (default: service.host).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: service.port).")] = None,
) -> None:
    """Apply the app database's migrations and serve the API and dashboard with Uvicorn."""
    import uvicorn

    from retain.app import count_users, create_app

    cfg = settings()
    host = host or cfg.service.host
    port = port if port is not None else cfg.service.port
    # serving: the collector tuned for serving (retain.app.main.prepare_process): what exists
    # once the app is built is exempt from collections and young ones run rarely; full
    # collections stopped every thread for 40-160 ms at a time while serving.
    application = create_app(cfg, migrate=True, serving=True)
    console.print(t("app.cli_migrated", url=_safe_url(cfg.database_url)))
    with application.state.sessionmaker() as session:
        if not count_users(session):
            console.print(t("app.cli_no_users"))
    shown = f"[{host}]" if ":" in host else host
    console.print(t("app.cli_serving", url=f"http://{shown}:{port}/"))
    # No access log: at log level "warning" it shows nothing, yet each request would still
    # build its record. uvicorn picks uvloop and httptools itself when they are installed.
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        proxy_headers=True,
    )


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


@user_app.command("add")
def user_add(
    email: Annotated[str, typer.Argument(help="The user's e-mail (their login).")],
    role: Annotated[str, typer.Option(help=ROLE_HELP)] = "analyst",
    password: Annotated[str | None, typer.Option(help="Password (prompted when omitted).")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    language: Annotated[str | None, typer.Option(help="en, ja or ko.")] = None,
) -> None:
    """Create a dashboard user (the first one should be an admin)."""
    from retain.app import Caller, ensure_user, open_session

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InvalidParameterError(
                t("app.cli_password_empty"), hint=t("app.cli_password_empty_hint")
            )
    elif password is None:
        password = typer.prompt(
            t("app.cli_password_prompt", email=email), hide_input=True, confirmation_prompt=True
        )
    if language is not None and language not in {"en", "ja", "ko"}:
        raise InvalidParameterError(
            t("app.bad_choice", name="language", value=language, choices="en, ja, ko")
        )
    with open_session(settings().database_url) as session:
        user = ensure_user(
            session,
            email=email,
            role=role,
            password=password,
            name=name,
            language=language,
            actor=Caller("cli", "cli"),
        )
        console.print(t("app.cli_user_added", email=user.email, role=user.role))


def _when(value: dt.datetime | None) -> str:
    return format_datetime(value, tz="UTC") if value is not None else t("cli.never")


@user_app.command("list")
def user_list() -> None:
    """List dashboard users: e-mail, role, whether active, last login."""
    from retain.app import list_users, open_session

    with open_session(settings().database_url) as session:
        users = list_users(session)
        table = Table(title=t("cli.users_title"), title_justify="left")
        for key in ("col_id", "col_email", "col_name", "col_role", "col_active", "col_last_login"):
            table.add_column(t(f"cli.{key}"))
        for user in users:
            table.add_row(
                str(user.id),
                user.email,
                user.name,
                user.role,
                t("cli.yes") if user.active else t("cli.no"),
                _when(user.last_login_at),
            )
    console.print(table if users else t("cli.none_yet"))


@key_app.command("list")
def key_list() -> None:
    """List API keys, newest first: id, prefix and role (a key itself is never shown again)."""
    from retain.app import list_api_keys, open_session

    with open_session(settings().database_url) as session:
        keys = list_api_keys(session)
        table = Table(title=t("cli.keys_title"), title_justify="left")
        columns = ("col_id", "col_name", "col_prefix", "col_role", "col_created", "col_created_by")
        for key in (*columns, "col_revoked"):
            table.add_column(t(f"cli.{key}"))
        for k in keys:
            table.add_row(
                str(k.id),
                k.name,
                f"rk_{k.prefix}_…",
                k.role,
                _when(k.created_at),
                k.created_by,
                format_datetime(k.revoked_at, tz="UTC") if k.revoked_at else "",
            )
    console.print(table if keys else t("cli.none_yet"))


@key_app.command("create")
def key_create(
    name: Annotated[str, typer.Argument(help="What the key is for, e.g. 'web-shop events'.")],
    role: Annotated[str, typer.Option(help=ROLE_HELP)] = "ingest",
) -> None:
    """Create an API key and print it once (send it as the X-API-Key header)."""
    from retain.app import Caller, create_api_key, open_session

    with open_session(settings().database_url) as session:
        key, raw = create_api_key(
            session, name=name, role=role, created_by="cli", actor=Caller("cli", "cli")
        )
        console.print(t("app.cli_key_created", name=key.name, role=key.role))
        typer.echo(raw)


@key_app.command("revoke")
def key_revoke(key_id: Annotated[int, typer.Argument(help="The key's id.")]) -> None:
    """Revoke an API key; calls that use it get 401 from now on."""
    from retain.app import Caller, open_session, revoke_api_key

    with open_session(settings().database_url) as session:
        key = revoke_api_key(session, key_id=key_id, actor=Caller("cli", "cli"))
        console.print(t("app.cli_key_revoked", id=key.id))
