"""Commands that serve: the prediction API, the marketers' app, the bento that packs them."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from juice.cli.output import JsonOption, emit, load_settings
from juice.errors import JuiceError
from juice.workspace import PROJECT_ROOT

SERVICE = "service:PolJuice"


def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default JUICE_API_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default JUICE_API_PORT).")] = None,
) -> None:
    """Start the BentoML service with the champion model (foreground).

    Beyond loopback it needs the token (JUICE_API_TOKEN), or JUICE_API_ALLOW_ANONYMOUS=true.
    """
    settings = load_settings()
    from juice.serving.access import api_access

    host = host or settings.api_host
    os.environ["JUICE_API_HOST"] = host  # the service checks it again, wherever it starts
    try:
        access = api_access(host, settings.token, settings.api_allow_anonymous)
    except ValueError as error:
        raise JuiceError(str(error)) from error
    from juice.registry.store import Registry

    Registry(settings).require_champion()
    from juice.adapters.commands import become, serve_command

    port = port or settings.api_port
    print(f"serving the champion on http://{host}:{port}; {access} (Ctrl+C stops)", flush=True)
    os.chdir(PROJECT_ROOT)  # the service's module; SIGTERM reaches the server itself
    become(serve_command(SERVICE, host, port, settings.api_shutdown_seconds))


def ui(
    host: Annotated[str | None, typer.Option(help="Interface (default JUICE_UI_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default JUICE_UI_PORT).")] = None,
) -> None:
    """Start the marketers' web app (Gradio) over the service at JUICE_API_URL (foreground).

    Beyond loopback it asks for a login: JUICE_UI_USERS="user:password,...".
    """
    settings = load_settings()
    from ui.access import check_binding, parse_users

    host, port = host or settings.ui_host, port or settings.ui_port
    try:
        users = parse_users(settings.ui_logins())
        check_binding(host, users)
    except ValueError as error:
        raise JuiceError(str(error)) from error
    from juice.adapters.ports import require_free
    from juice.adapters.stack import scratch_folder

    require_free(host, port, "the app")
    print(f"marketers' app on http://{host}:{port} over the service at {settings.service_url}")
    print("(Ctrl+C stops)", flush=True)
    with scratch_folder(settings):
        from ui.app import serve_ui

        serve_ui(settings.service_url, settings.token, host, port, users,
                 settings.api_max_upload_bytes, settings.retention_days)  # fmt: skip


def bento(as_json: JsonOption = False) -> None:
    """Build a bento that carries the current champion (then `bentoml containerize`)."""
    from juice.adapters.bento import build_bento

    tag, model = build_bento(load_settings())
    emit(
        as_json,
        {"bento": tag, "model": model},
        [f"built bento {tag} with the champion packed as {model}",
         f"containerize it on a machine with Docker: bentoml containerize {tag}"],
    )  # fmt: skip
