"""DVC adapter: the workspace is a DVC project whose pipeline rebuilds the dataset.

DVC runs as a subprocess (`python -m dvc`), one command at a time: two DVC commands
in one project at once fail with "busy", so every call holds a file lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from filelock import FileLock

from juice.errors import JuiceError
from juice.settings import Settings
from juice.workspace import PROJECT_PARAMS, PROJECT_PIPELINE, PROJECT_ROOT, Workspace

DATASET_STAGE = "build_dataset"
REMOTE_NAME = "workspace"


class VersioningError(JuiceError):
    """A DVC command failed."""


def dvc(settings: Settings, *args: str) -> str:
    """Runs one DVC command in the workspace and returns its output."""
    env = {
        **os.environ,
        "JUICE_HOME": str(settings.home),
        # Stage commands call `juice`: make this interpreter's scripts reachable.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    settings.workspace.work.mkdir(parents=True, exist_ok=True)
    with FileLock(settings.workspace.lock("dvc")):
        done = subprocess.run(
            [sys.executable, "-m", "dvc", *args],
            cwd=settings.home,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        detail = (done.stderr.strip() or done.stdout.strip()).splitlines()
        reason = next((line for line in reversed(detail) if line.startswith("ERROR")), None)
        raise VersioningError(f"dvc {args[0]} failed: {reason or (detail or ['?'])[-1]}")
    return done.stdout


def landing_lock(workspace: Workspace) -> FileLock:
    """Held while an export moves into the landing zone, and by a build from reading the
    landing zone until DVC has recorded it: an export that arrives mid-build waits, so
    dvc.lock never claims that the dataset was built from it."""
    workspace.work.mkdir(parents=True, exist_ok=True)
    return FileLock(workspace.lock("landing"))


def ensure_project(settings: Settings) -> None:
    """Makes the workspace a DVC project with the pipeline and a default remote."""
    workspace = settings.workspace
    workspace.home.mkdir(parents=True, exist_ok=True)
    if not workspace.dvc_dir.is_dir():
        scm = () if workspace.git_dir.exists() else ("--no-scm",)
        dvc(settings, "init", "--quiet", *scm)
    if workspace.home != PROJECT_ROOT:
        _copy_pipeline(workspace)
    dvc(settings, "config", "--local", "core.analytics", "false")
    dvc(
        settings,
        "remote",
        "add",
        "--local",
        "--force",
        "--default",
        REMOTE_NAME,
        settings.dvc_remote_url,
    )


def version_dataset(settings: Settings) -> str:
    """Records the raw exports and the built dataset in DVC, pushes them, returns the version."""
    ensure_project(settings)
    dvc(settings, "add", "--quiet", settings.workspace.relative(settings.workspace.landing))
    dvc(settings, "commit", "--force", "--quiet", DATASET_STAGE)
    dvc(settings, "push", "--quiet")
    return dataset_version(settings)


def dataset_version(settings: Settings) -> str:
    """The content hash DVC recorded for the dataset on disk (the version a training
    records). A dataset built since (`--no-version`, or a versioning that did not finish)
    has no DVC version: dvc.lock still names an earlier one."""
    workspace = settings.workspace
    lock, dataset = workspace.pipeline_lock, workspace.relative(workspace.dataset)
    if not lock.exists():
        raise VersioningError("the dataset is not versioned yet: run `juice build-dataset`")
    stages = yaml.safe_load(lock.read_text()).get("stages", {})
    recorded = [out for out in stages.get(DATASET_STAGE, {}).get("outs", [])
                if out.get("path") == dataset]  # fmt: skip
    if not recorded:
        raise VersioningError(f"dvc.lock records no {dataset}")
    version = str(recorded[0]["md5"]).removesuffix(".dir")
    if version != _directory_hash(workspace.dataset):
        raise VersioningError(f"{dataset} changed since DVC recorded it: it has no DVC version")
    return version


def _directory_hash(folder: Path) -> str:
    """The hash DVC 3 gives a folder (md5 of the sorted JSON listing of its files' md5s),
    computed in this process: no DVC process (a second or more), no wait for DVC's lock.
    The dataset flow's tests compare it with DVC's own after each versioned build."""
    listing = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with path.open("rb") as stream:
                md5 = hashlib.file_digest(stream, "md5").hexdigest()
            listing.append({"md5": md5, "relpath": path.relative_to(folder).as_posix()})
    return hashlib.md5(json.dumps(listing, sort_keys=True).encode()).hexdigest()


def reproduce(settings: Settings) -> str:
    """`dvc repro`: rebuilds whatever changed in the versioned inputs and parameters."""
    ensure_project(settings)
    return dvc(settings, "repro", DATASET_STAGE)


def _copy_pipeline(workspace: Workspace) -> None:
    """A relocated workspace gets the project's pipeline, code deps pointing at the project."""
    if not workspace.params_file.exists():
        shutil.copyfile(PROJECT_PARAMS, workspace.params_file)
    pipeline = yaml.safe_load(PROJECT_PIPELINE.read_text())
    for stage in pipeline["stages"].values():
        stage["deps"] = [
            str(PROJECT_ROOT / dep) if (PROJECT_ROOT / dep).is_file() else dep
            for dep in stage.get("deps", [])
        ]
    workspace.pipeline_file.write_text(yaml.safe_dump(pipeline, sort_keys=False))
