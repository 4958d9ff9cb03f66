"""The landing zone: exports arrive here once, unchanged, named by their content."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
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
from juice.errors import JuiceError

SIMULATOR_PREFIX = "sim-"
Opener = Callable[[], BinaryIO]
_CHUNK = 1 << 20
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class IngestError(JuiceError):
    """A source could not be read or downloaded."""


@dataclass(frozen=True)
class IngestResult:
    files: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SimulatorSource:
    """The simulated analytics system; each pull is the next export in a seeded series."""

    rows: int
    scenario: str
    seed: int


def ingest(
    sources: Iterable[str],
    landing_dir: Path,
    simulator: SimulatorSource,
    *,
    timeout: float = 30.0,
    attempts: int = 4,
) -> IngestResult:
    """Lands every source (file, folder of *.csv, http(s) URL; none means the simulator)."""
    landing_dir.mkdir(parents=True, exist_ok=True)
    landed: list[Path] = []
    skipped: list[str] = []
    for name, opener in _expand(list(sources), landing_dir, simulator, timeout, attempts):
        with opener() as stream:
            path, new = land(stream, name, landing_dir)
        if new:
            landed.append(path)
        else:
            skipped.append(name)
    return IngestResult(files=landed, skipped=skipped)


def land(stream: BinaryIO, name: str, landing_dir: Path) -> tuple[Path, bool]:
    """Copies a stream into the landing zone; returns its path and whether it is new."""
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=landing_dir, prefix=".incoming-", delete=False) as tmp:
        try:
            for chunk in iter(lambda: stream.read(_CHUNK), b""):
                digest.update(chunk)
                tmp.write(chunk)
        except BaseException:
            os.unlink(tmp.name)
            raise
    short = digest.hexdigest()[:16]
    existing = next(landing_dir.glob(f"*-{short}.csv"), None)
    if existing is not None:
        os.unlink(tmp.name)
        return existing, False
    stem = _UNSAFE.sub("_", Path(name).stem)[:60].strip("._") or "export"
    path = landing_dir / f"{stem}-{short}.csv"
    os.replace(tmp.name, path)
    path.chmod(0o444)  # landed exports are immutable
    return path, True


def _expand(
    sources: list[str],
    landing_dir: Path,
    simulator: SimulatorSource,
    timeout: float,
    attempts: int,
) -> Iterator[tuple[str, Opener]]:
    if not sources:
        yield from _simulated(landing_dir, simulator)
        return
    for source in sources:
        if urlparse(source).scheme in ("http", "https"):
            yield _url_name(source), partial(_download, source, timeout, attempts)
            continue
        path = Path(source).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
            if not files:
                raise IngestError(f"{source}: the folder holds no .csv export")
            for file in files:
                yield file.name, _opener(file)
        elif path.is_file():
            yield path.name, _opener(path)
        else:
            raise IngestError(f"{source}: no such file, folder or http(s) URL")


def _opener(path: Path) -> Opener:
    return lambda: path.open("rb")


def _simulated(landing_dir: Path, simulator: SimulatorSource) -> Iterator[tuple[str, Opener]]:
    pulled = sum(1 for _ in landing_dir.glob(f"{SIMULATOR_PREFIX}*.csv"))
    seed = simulator.seed + pulled
    name = f"{SIMULATOR_PREFIX}{simulator.scenario}-seed{seed}.csv"
    with tempfile.TemporaryDirectory() as tmp:
        path = write_export(simulate(simulator.rows, seed, simulator.scenario), Path(tmp) / name)
        yield name, lambda: path.open("rb")


def _url_name(url: str) -> str:
    return Path(urlparse(url).path).name or "download.csv"


def _retryable(error: BaseException) -> bool:
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code >= 500 or error.response.status_code == 429
    return isinstance(error, httpx.TransportError)


def _download(url: str, timeout: float, attempts: int) -> BinaryIO:
    """Streams a URL to a temporary file, retrying transient failures with backoff."""

    @retry(
        retry=retry_if_exception(_retryable),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=0.2, max=5),
        reraise=True,
    )
    def fetch() -> BinaryIO:
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it after landing
        try:
            with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
                response.raise_for_status()
                for chunk in response.iter_bytes(_CHUNK):
                    spool.write(chunk)
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
        raise IngestError(f"{url}: download failed ({type(error).__name__}: {error})") from error
