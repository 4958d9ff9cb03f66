"""The `juice` command line: one command per step, `--json` for scripts.

One module per user: `data` (exports and the dataset), `model` (training, the registry,
scoring, drift checks), `serving` (the API, the app, the bento), `stack` (everything at
once, or one of its servers); `output` is what they share.
"""

from __future__ import annotations

import os
import sys

import typer
from pydantic import ValidationError

from juice.cli import data, model, serving, stack
from juice.cli.output import fail
from juice.errors import JuiceError

app = typer.Typer(
    help="PolJuice purchase prediction: data, training, serving.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# In the order `juice --help` lists them: a step at a time, then what runs for long.
for command in (
    data.simulate, data.ingest, data.build_dataset, model.train, model.predict,
    model.drift_check, serving.serve, serving.ui, stack.prefect_server, stack.mlflow_ui,
    stack.up, stack.deployments, stack.monitor, serving.bento,
):  # fmt: skip
    app.command()(command)
app.add_typer(model.models_app, name="models")


def main() -> None:
    """Entry point: any failure becomes one line on stderr and a non-zero exit."""
    try:
        app(standalone_mode=False)
    except typer.Abort:
        fail("aborted")
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.TyperException as error:  # usage: unknown command, missing or bad option
        print(f"juice: error: {error.format_message()} (see --help)", file=sys.stderr)
        sys.exit(getattr(error, "exit_code", 2))
    except JuiceError as error:
        fail(str(error))
    except ValidationError as error:
        first = error.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        where = ".".join(str(part) for part in first["loc"])
        fail(f"invalid setting {where}: {message}" if where else message)
    except Exception as error:  # pragma: no cover - the last line of defence
        if os.environ.get("JUICE_DEBUG"):
            raise
        fail(f"{type(error).__name__}: {error}")
