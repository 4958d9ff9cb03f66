"""The `juice` command line: one command per step, `--json` for scripts."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from juice.errors import JuiceError
from juice.settings import Settings
from juice.workspace import PROJECT_ROOT

app = typer.Typer(
    help="PolJuice purchase prediction: data, training, serving.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

SERVICE = "service:PolJuice"
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead.")]


def main() -> None:
    """Entry point: any failure becomes one line on stderr and a non-zero exit."""
    try:
        app(standalone_mode=False)
    except typer.Abort:
        _fail("aborted")
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.TyperException as error:  # usage: unknown command, missing or bad option
        print(f"juice: error: {error.format_message()} (see --help)", file=sys.stderr)
        sys.exit(getattr(error, "exit_code", 2))
    except JuiceError as error:
        _fail(str(error))
    except ValidationError as error:
        first = error.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        where = ".".join(str(part) for part in first["loc"])
        _fail(f"invalid setting {where}: {message}" if where else message)
    except Exception as error:  # pragma: no cover - the last line of defence
        if os.environ.get("JUICE_DEBUG"):
            raise
        _fail(f"{type(error).__name__}: {error}")


def _fail(reason: str) -> None:
    print(f"juice: error: {' '.join(reason.split())}", file=sys.stderr)
    sys.exit(1)


def _emit(as_json: bool, payload: dict[str, Any], lines: list[str]) -> None:
    if as_json:
        print(json.dumps(payload, default=str))
    else:
        print("\n".join(lines))


def _settings() -> Settings:
    settings = Settings()
    _require_writable(settings.home)
    from flows.runtime import prepare_environment

    prepare_environment(settings)
    return settings


def _require_writable(home: Path) -> None:
    """Every step writes into the workspace: say so now if it cannot, before a framework
    (Prefect waits minutes for a server that cannot start) or a step fails half-way."""
    try:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=home):
            pass
    except OSError as error:
        raise JuiceError(f"the workspace is read-only: {home} ({error.strerror})") from error


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Where to write the export.")],
    rows: Annotated[int, typer.Option(min=1, help="Visits to simulate.")] = 10_000,
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 0,
    scenario: Annotated[
        str, typer.Option(help="stable, older-visitors, campaign, concept.")
    ] = "stable",
    header: Annotated[bool, typer.Option(help="Write a header row.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Write an export from the simulated analytics system."""
    import polars as pl

    from juice.data.simulator import SCENARIOS, write_export
    from juice.data.simulator import simulate as run

    if scenario not in SCENARIOS:
        raise JuiceError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    visits = run(rows, seed, scenario)
    write_export(visits, out, header=header)
    rate = float(visits.select(pl.col("purchased").mean()).item())
    _emit(
        as_json,
        {
            "output": str(out),
            "rows": rows,
            "seed": seed,
            "scenario": scenario,
            "purchase_rate": rate,
        },
        [f"wrote {rows} visits ({scenario}, seed {seed}, purchase rate {rate:.1%}) to {out}"],
    )


@app.command()
def ingest(
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="Files, folders of .csv or http(s) URLs; none: the simulator."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Land exports in the workspace's landing zone (each file once, a gzip decompressed).

    A source that is not an export (empty, binary, not CSV), too big (JUICE_INGEST_MAX_SIZE)
    or too slow to download (JUICE_INGEST_DEADLINE_SECONDS) is refused with the reason;
    the others still land.
    """
    from juice.data.ingest import ingest_into

    result = ingest_into(sources or [], _settings())
    lines = [
        f"landed {path}" + (" (decompressed from gzip)" if path in result.decompressed else "")
        for path in result.files
    ]
    lines += [f"skipped {name} (already ingested)" for name in result.skipped]
    lines += [f"refused {refusal.reason}" for refusal in result.refused]
    lines.append(
        f"{len(result.files)} landed, {len(result.skipped)} skipped, {len(result.refused)} refused"
    )
    payload = {
        "files": [str(p) for p in result.files],
        "skipped": result.skipped,
        "refused": [asdict(refusal) for refusal in result.refused],
        "decompressed": [str(p) for p in result.decompressed],
    }
    _emit(as_json, payload, lines)
    if result.refused:
        _fail(f"{len(result.refused)} source(s) refused: {result.refused[0].reason}")


@app.command("build-dataset")
def build_dataset(
    version: Annotated[bool, typer.Option(help="Record and push the result with DVC.")] = True,
    strict: Annotated[bool, typer.Option(help="Exit 1 if any export is rejected.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Flow: parse the landed exports, quarantine bad rows, validate, publish, version.

    An export that fails validation, or cannot be read at all, is left out of the dataset
    and reported; it stays in the landing zone.
    """
    from juice.data.dataset import NO_EXPORT, landed_exports

    if not landed_exports(_settings()):  # say so before Prefect starts
        raise JuiceError(NO_EXPORT)
    from flows.dataset import build_dataset as flow

    summary = flow(versioned=version)
    payload = {**asdict(summary)}
    lines = [
        f"{batch.export}: {batch.rows_read} read, {batch.rows_accepted} accepted, "
        f"{batch.rows_quarantined} quarantined, {'valid' if batch.valid else 'REJECTED'}"
        for batch in summary.batches
    ]
    lines += [f"  {batch.verdict} (report: {batch.report})" for batch in summary.rejected]
    lines.append(
        f"dataset: {summary.dataset_rows} rows from {len(summary.batches) - len(summary.rejected)}"
        f" of {len(summary.batches)} exports; version {summary.dataset_version or 'not recorded'}"
    )
    if summary.reused:
        lines.append(f"reused the kept results of {summary.reused} unchanged export(s)")
    _emit(as_json, payload, lines)
    if summary.rejected:
        names = ", ".join(batch.export for batch in summary.rejected)
        message = f"{len(summary.rejected)} export(s) rejected, not published: {names}"
        if strict:
            _fail(message)
        print(f"juice: warning: {message}", file=sys.stderr)


@app.command()
def train(as_json: JsonOption = False) -> None:
    """Flow: grid search, decision threshold, MLflow run, registry, champion/challenger gate."""
    _settings()
    from flows.training import train as flow
    from juice.model.evaluation import SUMMARY_METRICS

    outcome = flow()
    metrics = {key: outcome.metrics[key] for key in SUMMARY_METRICS}
    payload = {**asdict(outcome), "metrics": metrics, "all_metrics": outcome.metrics}
    shown = ", ".join(f"{key} {value:.4f}" for key, value in metrics.items())
    _emit(
        as_json,
        payload,
        [
            (
                f"registered model version {outcome.model_version} "
                f"(dataset {outcome.dataset_version or 'unversioned'})"
            ),
            f"test: {shown}; threshold {outcome.threshold:.4f}",
            f"{'PROMOTED to champion' if outcome.promoted else 'not promoted'}: {outcome.reason}",
            f"champion: {outcome.champion or 'none'}",
        ],
    )


models_app = typer.Typer(help="The model registry.", no_args_is_help=False)
app.add_typer(models_app, name="models")


@models_app.callback(invoke_without_command=True)
def models(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List registered versions with metrics and aliases."""
    if ctx.invoked_subcommand is not None:
        return
    from juice.registry.kept import kept_versions

    versions = kept_versions(_settings())
    lines = [
        f"v{v.version:<4} {v.status:<17} threshold {v.threshold or 0:.3f}  "
        + "  ".join(f"{k} {x:.4f}" for k, x in v.metrics.items())
        + (f"  [{', '.join(v.aliases)}]" if v.aliases else "")
        for v in versions
    ] or ["no registered model yet: run `juice train`"]
    _emit(as_json, {"versions": [asdict(v) for v in versions]}, lines)


@models_app.command()
def promote(
    version: Annotated[
        str, typer.Argument(help="The version to serve (rollback or roll forward).")
    ],
    reason: Annotated[str, typer.Option(help="Why, for the record.")] = "manual promotion",
    as_json: JsonOption = False,
) -> None:
    """Make a version the champion."""
    from juice.registry.promotion import promote as move_champion
    from juice.registry.store import Registry, parse_version

    version = parse_version(version)
    promotion = move_champion(Registry(_settings()), version, reason, actor="cli")
    if promotion is None:
        _emit(
            as_json,
            {"champion": version, "previous": version, "promoted": False},
            [f"v{version} is already the champion: nothing to do"],
        )
        return
    _emit(
        as_json,
        {"champion": version, "previous": promotion.previous, "reason": reason, "promoted": True},
        [f"champion is now v{version} (was {promotion.previous or 'none'}): {reason}"],
    )


@app.command()
def predict(
    source: Annotated[Path, typer.Argument(help="An export, with or without label and header.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the scored CSV.")],
    as_json: JsonOption = False,
) -> None:
    """Score an export offline with the champion; bad rows are reported, not scored."""
    if not source.is_file():
        raise JuiceError(f"{source}: no such file")
    from juice.model.scoring import score_export
    from juice.params import seconds_bound
    from juice.registry.kept import kept_champion

    settings = _settings()
    model = kept_champion(settings)
    result = score_export(
        source,
        out,
        model,
        max_seconds=seconds_bound(settings),
    )
    lines = [f"scored {result.rows_scored} rows with model v{model.version} -> {result.output}"]
    if result.rows_rejected:
        lines.append(f"rejected {result.rows_rejected} rows, with reasons: {result.rejected}")
    _emit(as_json, asdict(result), lines)


@app.command("drift-check")
def drift_check(
    current: Annotated[
        Path | None, typer.Option(help="Judge this export instead of the newly landed ones.")
    ] = None,
    retrain: Annotated[
        bool, typer.Option(help="On drift, rebuild the dataset and train a challenger.")
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Flow: the newest visits against the champion's training data; drift is a result
    (exit 0), reported as JSON, MLflow run, Prefect artifact and Pushgateway metrics."""
    if current is not None and not current.is_file():
        raise JuiceError(f"{current}: no such file")
    from juice.registry.store import Registry

    Registry(_settings()).require_champion()  # say so before Prefect starts
    from flows.drift import drift_check as flow

    outcome = flow(current=str(current) if current else None, retrain=retrain)
    check, report = outcome.check, outcome.check.report
    flagged = ", ".join(report.drifted_features) or "none"
    reference = f"{report.reference_rows} visits) vs {report.window_rows} new visits"
    concept = "yes" if report.concept_drift else "no"
    _emit(
        as_json,
        outcome.to_dict(),
        [
            f"{report.verdict.upper()}: {report.reason}",
            f"champion v{check.model_version} (data {check.reference_version[:12]}, {reference}",
            f"drifted features: {flagged}; concept drift: {concept}",
            f"{outcome.action}; champion now v{outcome.model_version}",
            f"report: {check.report_file}",
            *(f"warning: {warning}" for warning in check.warnings),
        ],
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (default JUICE_API_PORT).")] = None,
) -> None:
    """Start the BentoML service with the champion model (foreground)."""
    settings = _settings()
    from juice.registry.store import Registry

    Registry(settings).require_champion()
    from juice.adapters.processes import serve_command

    port = port or settings.api_port
    print(f"serving the champion on http://{host}:{port} (Ctrl+C stops)")
    command = serve_command(SERVICE, host, port, settings.api_shutdown_seconds)
    sys.exit(subprocess.call(command, cwd=PROJECT_ROOT))


@app.command()
def ui(
    host: Annotated[str | None, typer.Option(help="Interface (default JUICE_UI_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default JUICE_UI_PORT).")] = None,
) -> None:
    """Start the marketers' web app (Gradio) over the service at JUICE_API_URL (foreground).

    Beyond loopback it asks for a login: JUICE_UI_USERS="user:password,...".
    """
    settings = _settings()
    from ui.access import check_binding, parse_users

    host, port = host or settings.ui_host, port or settings.ui_port
    try:
        users = parse_users(settings.ui_logins())
        check_binding(host, users)
    except ValueError as error:
        raise JuiceError(str(error)) from error
    with socket.socket() as probe:  # say it in our words before Gradio tries
        # As Gradio's server does: connections the app's last run closed wait a minute in
        # TIME_WAIT, and they do not stop a new listener.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise JuiceError(f"the app cannot listen on {host}:{port}: {error.strerror}") from error
    # Uploads and scored files stay in the workspace, not in the machine's /tmp.
    scratch = settings.workspace.ui_scratch / str(os.getpid())
    scratch.mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = os.environ["TMPDIR"] = str(scratch)
    tempfile.tempdir = str(scratch)
    print(f"marketers' app on http://{host}:{port} over the service at {settings.service_url}")
    print("(Ctrl+C stops)", flush=True)
    from ui.app import serve_ui

    try:
        serve_ui(settings.service_url, settings.token, host, port, users)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@app.command("prefect-server")
def prefect_server() -> None:
    """Start the Prefect server and its UI on JUICE_PREFECT_PORT (foreground), its database
    in the workspace."""
    settings = _settings()
    os.environ.pop("PREFECT_API_URL", None)  # the server itself is no client
    prefect = str(Path(sys.executable).parent / "prefect")
    command = [prefect, "server", "start", "--host", "127.0.0.1",
               "--port", str(settings.prefect_port)]  # fmt: skip
    print(f"Prefect server and UI on http://127.0.0.1:{settings.prefect_port}", flush=True)
    os.execv(prefect, command)


@app.command("mlflow-ui")
def mlflow_ui() -> None:
    """Start the MLflow UI over the workspace's tracking store on JUICE_MLFLOW_PORT
    (foreground): experiments, runs, and the registry with its champion alias."""
    settings = _settings()
    mlflow = str(Path(sys.executable).parent / "mlflow")
    command = [mlflow, "server", "--backend-store-uri", settings.tracking_uri, "--workers", "1",
               "--host", "127.0.0.1", "--port", str(settings.mlflow_port)]  # fmt: skip
    print(f"MLflow UI on http://127.0.0.1:{settings.mlflow_port}", flush=True)
    os.execv(mlflow, command)


@app.command()
def up(
    wait: Annotated[float, typer.Option(help="Seconds to wait for every part to answer.")] = 300,
) -> None:
    """Run the whole stack (foreground): first an export, a dataset and a champion when
    there is none yet, then the Procfile's processes (Prefect server and deployments,
    MLflow UI, the service, the app, Prometheus, the Pushgateway, Alertmanager), each
    logging to logs/<name>.log. Ctrl-C or SIGTERM stops them all."""
    settings = _settings()
    from filelock import FileLock

    from flows.runtime import listening
    from juice.adapters import stack
    from juice.locks import try_acquire

    lock = FileLock(settings.workspace.lock("stack"))
    if not try_acquire(lock):
        raise JuiceError(
            f"the stack already runs in this workspace ({settings.home}): use it, or stop it "
            "with Ctrl-C where it runs"
        ) from None
    busy = [f"{e.port} ({e.setting})" for e in stack.endpoints(settings) if listening(e.port)]
    if busy:
        raise JuiceError(f"in use: port {', '.join(busy)}; stop what listens there or set "
                         "other ports")  # fmt: skip
    _prepare_stack(settings)
    started = time.monotonic()

    def report() -> None:
        silent = stack.wait_until_up(settings, wait)
        if silent:
            names = ", ".join(e.name for e in silent)
            print(f"not answering after {wait:.0f} s: {names} (see {settings.workspace.logs})")
            return
        took = time.monotonic() - started
        print(f"\nthe stack is up ({took:.0f} s); Ctrl-C stops it\n{stack.url_table(settings)}\n",
              flush=True)  # fmt: skip

    sys.exit(stack.run_processes(stack.procfile_processes(), settings.workspace.logs, report))


def _prepare_stack(settings: Settings) -> None:
    """What the stack needs before it starts: a champion (from a first export and a
    dataset when there are none); nothing when there is one already."""
    steps: list[list[str]] = []
    if not _has_champion(settings):
        landed = settings.workspace.landing
        if not landed.is_dir() or not any(landed.iterdir()):
            steps.append(["ingest"])
        steps += [["build-dataset"], ["train"]]
    for number, step in enumerate(steps, 1):
        print(f"[{number}/{len(steps)}] juice {' '.join(step)}", flush=True)
        started = time.monotonic()
        if subprocess.call([sys.executable, "-m", "juice.cli", *step]) != 0:
            raise JuiceError(f"`juice {' '.join(step)}` failed: the stack was not started")
        print(f"      done in {time.monotonic() - started:.0f} s", flush=True)


def _has_champion(settings: Settings) -> bool:
    from juice.registry.store import Registry

    return not Registry.missing(settings) and Registry(settings).champion_version() is not None


@app.command()
def deployments(
    wait: Annotated[float, typer.Option(help="Seconds to wait for the Prefect server.")] = 120,
) -> None:
    """Serve the flows as Prefect deployments (foreground): build-dataset, train, ingest and
    drift-check on demand; ingest and drift-check on their schedules (JUICE_*_CRON)."""
    settings = _settings()
    os.environ.setdefault("PREFECT_API_URL", settings.prefect_api_url)
    # The stack runs a Pushgateway: the scheduled drift checks push their verdicts to it.
    os.environ.setdefault("JUICE_PUSHGATEWAY_URL", settings.pushgateway_local_url)
    _wait_for(f"{os.environ['PREFECT_API_URL']}/health", wait)
    from deployments.flows import serve_deployments

    print(f"serving the deployments (drift check: {settings.drift_cron})", flush=True)
    serve_deployments(settings)


def _wait_for(url: str, seconds: float) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise JuiceError(f"nothing answered at {url} within {seconds:.0f} s")
        time.sleep(1)


MONITORS = ("prometheus", "alertmanager", "pushgateway", "alerts")


@app.command()
def monitor(
    service: Annotated[str, typer.Argument(help=" | ".join(MONITORS))],
) -> None:
    """Run one part of the monitoring (foreground): Prometheus, Alertmanager, the
    Pushgateway (configurations written into the workspace first), or the alert receiver."""
    if service not in MONITORS:
        raise JuiceError(f"unknown monitoring service {service!r}; choose {', '.join(MONITORS)}")
    settings = _settings()
    if service == "alerts":
        from juice.adapters.alert_receiver import serve_alert_receiver

        print(f"alert receiver on http://127.0.0.1:{settings.alert_receiver_port}", flush=True)
        serve_alert_receiver(settings)
        return
    from juice.monitoring import prometheus

    prometheus.write_monitoring_configs(settings)
    command = prometheus.COMMANDS[service](settings)
    os.execv(command[0], command)  # the process manager's signals reach the server itself


@app.command()
def bento(as_json: JsonOption = False) -> None:
    """Build a bento that carries the current champion (then `bentoml containerize`)."""
    from juice.adapters.bento import build_bento

    tag, model = build_bento(_settings())
    _emit(
        as_json,
        {"bento": tag, "model": model},
        [f"built bento {tag} with the champion packed as {model}",
         f"containerize it on a machine with Docker: bentoml containerize {tag}"],
    )  # fmt: skip


if __name__ == "__main__":
    main()
