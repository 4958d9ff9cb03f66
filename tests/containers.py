"""Containers in tests: podman, the project's images built once by its own scripts, a
container started and always removed, and the compose stack under podman-compose."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from filelock import FileLock

from juice.workspace import PROJECT_ROOT

CONTAINERS = PROJECT_ROOT / "deployments" / "containers"
COMPOSE_FILE = PROJECT_ROOT / "deployments" / "compose.yaml"
# The tests' champion packed (never the user's :latest), one tag per pytest-xdist worker.
BENTO_IMAGE = f"localhost/poljuice:test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
BUILD_LOG = PROJECT_ROOT / "build" / "images" / "logs" / "tests-make-images.txt"


def podman(
    *args: str, timeout: float = 120, check: bool = True, given: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`podman ARGS` (`given` on its stdin); with `check`, a failure fails the test."""
    done = subprocess.run(["podman", *args], input=given, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    if check and done.returncode != 0:
        pytest.fail(f"podman {' '.join(args)}: {done.stderr.strip()[-2000:]}")
    return done


def as_root(command: list[str], env: dict[str, str]) -> list[str]:
    """`command` as root with `env` (podman here is rootful: LIBRARY-NOTES)."""
    if os.geteuid() == 0:
        return command
    return ["sudo", "-n", "env", *(f"{name}={value}" for name, value in env.items()), *command]


def build_images(champion_home: Path) -> None:
    """`make images`' script with the tests' champion for the bento's image (BENTO_IMAGE):
    podman set up and every base made when missing, then cached builds (seconds when
    nothing changed). Its output goes to BUILD_LOG; a failure shows its end."""
    BUILD_LOG.parent.mkdir(parents=True, exist_ok=True)
    env = {"JUICE_HOME": str(champion_home), "IMAGE_TAG": BENTO_IMAGE.removeprefix("localhost/"),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # fmt: skip
    command = as_root([str(CONTAINERS / "make-images.sh")], env)
    with FileLock(BUILD_LOG.with_suffix(".lock")), BUILD_LOG.open("w") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, **env}, timeout=900)  # fmt: skip
    if done.returncode != 0:
        tail = BUILD_LOG.read_text()[-3000:]
        pytest.fail(f"deployments/containers/make-images.sh failed (podman is set up by it: "
                    f"Debian's podman 4.3, rootful):\n{tail}")  # fmt: skip


def require_podman() -> None:
    """Podman is what these tests prove: missing, it is a failure that says what to do."""
    if shutil.which("podman") is None and shutil.which("apt-get") is None:
        pytest.fail(
            "podman is missing and cannot be installed here (no apt-get): the container tests "
            "need Debian's podman 4.3 (`make images` installs it on Debian)"
        )


@contextmanager
def container(name: str, image: str, *options: str) -> Iterator[str]:
    """`podman run -d` of `image` named `name`; removed (stopped first) however the test ends."""
    podman("rm", "-f", "--ignore", name)
    podman("run", "-d", "--name", name, *options, image)
    try:
        yield name
    finally:
        podman("rm", "-f", "--ignore", name, check=False)


def compose(
    project: str, *args: str, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`podman-compose -p PROJECT -f deployments/compose.yaml ARGS` with `env` added."""
    command = [str(Path(sys.executable).parent / "podman-compose"), "-p", project,
               "-f", str(COMPOSE_FILE), *args]  # fmt: skip
    return subprocess.run(as_root(command, env), capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **env})  # fmt: skip


def project_containers(project: str) -> list[str]:
    found = podman("ps", "-a", "--filter", f"label=io.podman.compose.project={project}",
                   "--format", "{{.Names}}")  # fmt: skip
    return found.stdout.split()


def project_volumes(project: str) -> list[str]:
    found = podman("volume", "ls", "--format", "{{.Name}}")
    return [name for name in found.stdout.split() if name.startswith(f"{project}_")]
