"""The images' inputs that can go stale: the pinned requirements of the bento's and MLflow's
images against uv.lock."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from juice.workspace import PROJECT_ROOT

CONTAINERS = PROJECT_ROOT / "deployments" / "containers"


def locked() -> dict[str, str]:
    lock = tomllib.loads((PROJECT_ROOT / "uv.lock").read_text())
    return {package["name"]: package["version"] for package in lock["package"]
            if "version" in package}  # fmt: skip


def pinned(requirements: Path = CONTAINERS / "requirements.bento.txt") -> dict[str, str]:
    lines = requirements.read_text().splitlines()
    found = (re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+).*", line) for line in lines)
    return {match.group(1).lower().replace("_", "-"): match.group(2) for match in found if match}


def test_the_bentos_requirements_are_uv_locks_versions():
    """bento-image.sh rewrites the file when uv.lock moves; committed stale, it fails here."""
    lock, pins = locked(), pinned()
    assert "bentoml" in pins
    assert pins["mlflow-skinny"] == lock["mlflow"]  # the served model's MLflow, without the server
    differing = {name: (version, lock[name]) for name, version in pins.items()
                 if name in lock and lock[name] != version}  # fmt: skip
    assert not differing


def test_the_bentofile_builds_on_our_base_with_our_template_and_the_pins():
    bentofile = yaml.safe_load((PROJECT_ROOT / "bentofile.yaml").read_text())
    assert bentofile["python"]["requirements_txt"].endswith("requirements.bento.txt")
    assert (PROJECT_ROOT / bentofile["docker"]["dockerfile_template"]).is_file()
    assert bentofile["docker"]["base_image"].startswith("localhost/poljuice-base")


def test_mlflows_image_is_the_projects_mlflow_with_its_drivers():
    """build-services.sh rewrites requirements.txt when uv.lock moves; the image is tagged
    with the version pinned there, the one compose.yaml and Kubernetes name."""
    lock, pins = locked(), pinned(PROJECT_ROOT / "deployments" / "mlflow" / "requirements.txt")
    assert pins["mlflow"] == lock["mlflow"]
    assert {"psycopg2-binary", "boto3"} <= set(pins)
    differing = {name: (version, lock[name]) for name, version in pins.items()
                 if name in lock and lock[name] != version}  # fmt: skip
    assert not differing
    compose = yaml.safe_load((PROJECT_ROOT / "deployments" / "compose.yaml").read_text())
    assert compose["services"]["mlflow"]["image"] == f"poljuice-mlflow:{lock['mlflow']}"
    manifest = (PROJECT_ROOT / "deployments" / "k8s" / "mlflow.yaml").read_text()
    assert f"poljuice-mlflow:{lock['mlflow']}" in manifest
