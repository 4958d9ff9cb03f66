"""The landing zone: exports arrive here once, unchanged, named by their content."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse

import httpx
from tenacity import (
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from juice.data.simulator import simulate, write_export
from juice.data.sniffing import SAMPLE_BYTES, compression, not_an_export
from juice.data.staging import staging_area
from juice.data.versioning import landing_lock
from juice.errors import JuiceError
from juice.settings import Settings
from juice.workspace import Workspace

SIMULATOR_PREFIX = "sim-"
Opener = Callable[[], BinaryIO]
_CHUNK = 1 << 20
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EXPORTS = (".csv", ".csv.gz")


class IngestError(JuiceError):
    """A source could not be read or downloaded, or is not an export."""


@dataclass(frozen=True)
class IngestLimits:
    """How big one export may be (decompressed) and how long one download may take."""

    max_bytes: int = 2 << 30
    deadline: float = 600.0  # seconds for a whole download, every attempt included
    timeout: float = 30.0  # seconds a download may wait for the server
    attempts: int = 4

    @classmethod
    def of(cls, settings: Settings) -> IngestLimits:
        return cls(
            max_bytes=settings.ingest_max_size,
            deadline=settings.ingest_deadline_seconds,
            timeout=settings.http_timeout_seconds,
            attempts=settings.http_attempts,
        )

    def too_big(self) -> str:
        return f"more than {self.max_bytes / 2**20:g} MiB (JUICE_INGEST_MAX_SIZE)"

    def too_long(self) -> str:
        return f"longer than {self.deadline:g} s (JUICE_INGEST_DEADLINE_SECONDS)"


@dataclass(frozen=True)
class Refusal:
    source: str
    reason: str  # names the source


@dataclass(frozen=True)
class IngestResult:
    files: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    decompressed: list[Path] = field(default_factory=list)  # landed from a gzip


@dataclass(frozen=True)
class SimulatorSource:
    """The simulated analytics system; each pull is the next export in a seeded series."""

    rows: int
    scenario: str
    seed: int


def ingest_into(sources: Iterable[str], settings: Settings) -> IngestResult:
    """`ingest` into the workspace's landing zone, with its simulator and limits."""
    simulator = SimulatorSource(settings.sim_rows, settings.sim_scenario, settings.sim_seed)
    return ingest(sources, settings.workspace, simulator, IngestLimits.of(settings))


def ingest(
    sources: Iterable[str],
    workspace: Workspace,
    simulator: SimulatorSource,
    limits: IngestLimits = IngestLimits(),
) -> IngestResult:
    """Lands every source (file, folder of *.csv or *.csv.gz, http(s) URL; none means the
    simulator). A source that is not an export, too big or too slow is refused with its
    reason; the others still land. Downloads and copies in progress stay in a staging
    area (a killed ingest leaves nothing in the landing zone)."""
    landing = workspace.landing
    landing.mkdir(parents=True, exist_ok=True)
    result = IngestResult()
    with staging_area(workspace) as spool:
        for name, opener in _expand(list(sources), landing, spool, simulator, limits):
            try:
                with opener() as stream:
                    path, new, decompressed = land(stream, name, workspace, spool, limits)
            except IngestError as error:
                result.refused.append(Refusal(name, str(error)))
                continue
            if not new:
                result.skipped.append(name)
                continue
            result.files.append(path)
            if decompressed:
                result.decompressed.append(path)
    return result


def land(
    stream: BinaryIO, name: str, workspace: Workspace, spool: Path, limits: IngestLimits
) -> tuple[Path, bool, bool]:
    """Copies a stream into the landing zone (through `spool`), decompressing a gzip;
    returns its path, whether it is new and whether it was decompressed. Refuses what is
    not an export. Only the move into the landing zone waits for a build reading it (the
    landing lock), not the download or the copy."""
    landing_dir = workspace.landing
    gzipped = compression(stream.read(SAMPLE_BYTES)) == "gzip"
    stream.seek(0)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=spool, delete=False) as tmp:
        try:
            size = 0
            for chunk in _chunks(stream, name, gzipped):
                size += len(chunk)
                if size > limits.max_bytes:
                    grows = "decompresses to" if gzipped else "holds"
                    raise IngestError(f"{name}: {grows} {limits.too_big()}")
                digest.update(chunk)
                tmp.write(chunk)
            tmp.seek(0)
            if reason := not_an_export(tmp.read(SAMPLE_BYTES)):
                raise IngestError(f"{name}: {reason}")
        except BaseException:
            os.unlink(tmp.name)
            raise
    short = digest.hexdigest()[:16]
    stem = _UNSAFE.sub("_", Path(name.removesuffix(".gz")).stem)[:60].strip("._") or "export"
    path = landing_dir / f"{stem}-{short}.csv"
    Path(tmp.name).chmod(0o444)  # landed exports are immutable
    with landing_lock(workspace):
        existing = next(landing_dir.glob(f"*-{short}.csv"), None)
        if existing is not None:
            os.unlink(tmp.name)
            return existing, False, gzipped
        os.replace(tmp.name, path)
    return path, True, gzipped


def _chunks(stream: BinaryIO, name: str, gzipped: bool) -> Iterator[bytes]:
    source = gzip.GzipFile(fileobj=stream) if gzipped else stream
    try:
        yield from iter(lambda: source.read(_CHUNK), b"")
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise IngestError(f"{name}: a truncated or corrupt gzip ({error})") from error


def _expand(
    sources: list[str],
    landing_dir: Path,
    spool: Path,
    simulator: SimulatorSource,
    limits: IngestLimits,
) -> Iterator[tuple[str, Opener]]:
    if not sources:
        yield from _simulated(landing_dir, spool, simulator)
        return
    for source in sources:
        if urlparse(source).scheme in ("http", "https"):
            yield _url_name(source), partial(_download, source, limits, spool)
            continue
        path = Path(source).expanduser()
        if path.is_dir():
            files = sorted(
                p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(_EXPORTS)
            )
            if not files:
                raise IngestError(f"{source}: the folder holds no .csv or .csv.gz export")
            for file in files:
                yield file.name, _opener(file)
        elif path.is_file():
            yield path.name, _opener(path)
        else:
            raise IngestError(f"{source}: no such file, folder or http(s) URL")


def _opener(path: Path) -> Opener:
    return lambda: path.open("rb")


def _simulated(
    landing_dir: Path, spool: Path, simulator: SimulatorSource
) -> Iterator[tuple[str, Opener]]:
    pulled = sum(1 for _ in landing_dir.glob(f"{SIMULATOR_PREFIX}*.csv"))
    seed = simulator.seed + pulled
    name = f"{SIMULATOR_PREFIX}{simulator.scenario}-seed{seed}.csv"
    path = write_export(simulate(simulator.rows, seed, simulator.scenario), spool / name)
    yield name, _opener(path)


def _url_name(url: str) -> str:
    return Path(urlparse(url).path).name or "download.csv"


def _retryable(error: BaseException) -> bool:
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code >= 500 or error.response.status_code == 429
    return isinstance(error, httpx.TransportError)


def _download(url: str, limits: IngestLimits, spool_dir: Path) -> BinaryIO:
    """Streams a URL to a temporary file, retrying transient failures with backoff, until
    the size cap or the deadline (checked as data arrives; a silent server is cut off by
    the read timeout, itself cut to the time left)."""
    started = time.monotonic()

    def left() -> float:
        return limits.deadline - (time.monotonic() - started)

    def stopped(why: str) -> IngestError:
        return IngestError(f"{url}: the download was stopped: {why}")

    @retry(
        retry=retry_if_exception(_retryable),
        stop=stop_after_attempt(limits.attempts),
        wait=wait_exponential(multiplier=0.2, max=5),
        reraise=True,
    )
    def fetch() -> BinaryIO:
        if left() <= 0:
            raise stopped(f"it took {limits.too_long()}")
        spool = tempfile.TemporaryFile(dir=spool_dir)  # noqa: SIM115 - the caller closes it
        timeout = min(limits.timeout, left())
        try:
            with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
                response.raise_for_status()
                if int(response.headers.get("content-length") or 0) > limits.max_bytes:
                    raise stopped(f"it announced {limits.too_big()}")
                for chunk in response.iter_bytes():  # as it arrives: a trickle is seen
                    spool.write(chunk)
                    if spool.tell() > limits.max_bytes:
                        raise stopped(f"it sent {limits.too_big()}")
                    if left() <= 0:
                        raise stopped(f"it took {limits.too_long()}")
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool

    try:
        return fetch()
    except httpx.HTTPStatusError as error:
        raise IngestError(f"{url}: the server answered {error.response.status_code}") from error
    except httpx.HTTPError as error:
        if left() <= 0:
            raise stopped(f"it took {limits.too_long()}") from error
        raise IngestError(f"{url}: download failed ({type(error).__name__}: {error})") from error
