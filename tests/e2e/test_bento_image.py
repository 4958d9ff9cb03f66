"""The bento's image as it ships (`bentoml containerize --backend podman`, make-images.sh),
run as a container: the champion packed in it answers as `juice predict` does with that
champion, behind the token a container requires, as a non-root user, stopped cleanly."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Iterator

import httpx
import pytest
from commands import juice
from containers import BENTO_IMAGE, container, podman
from factories import export
from waiting import eventually

from juice.adapters.processes import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.containers]

TOKEN = "a-test-token-" + os.urandom(8).hex()
SIZE_BOUND = 1.2e9  # bytes, as `podman images` counts them


@pytest.fixture(scope="module")
def api(images) -> Iterator[tuple[str, str]]:
    """The image run with a token, published on a free loopback port: (container, URL)."""
    port = free_port()
    name = f"poljuice-test-api-{os.getpid()}"
    with container(
        name, BENTO_IMAGE, "-p", f"127.0.0.1:{port}:3000", "-e", f"JUICE_API_TOKEN={TOKEN}"
    ):
        url = f"http://127.0.0.1:{port}"
        eventually(lambda: answered(f"{url}/readyz"), "ready service in the container", timeout=120)
        yield name, url


def answered(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def authorised() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def test_the_packed_champion_scores_as_juice_predict_does_row_for_row(api, images, tmp_path):
    _, url = api
    held_out = export(tmp_path / "held-out.csv", rows=300, seed=77)
    done = juice("predict", str(held_out), "--out", str(tmp_path / "scored.csv"),
                 env={"JUICE_HOME": str(images)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    with held_out.open("rb") as upload:
        answer = httpx.post(f"{url}/predict_csv", files={"file": ("held-out.csv", upload)},
                            headers=authorised(), timeout=60)  # fmt: skip
    assert answer.status_code == 200, answer.text
    served = list(csv.DictReader(io.StringIO(answer.text)))
    offline = list(csv.DictReader((tmp_path / "scored.csv").open()))
    assert len(served) == len(offline) == 300
    for ours, theirs in zip(served, offline, strict=True):
        assert float(ours["probability"]) == pytest.approx(float(theirs["probability"]), abs=1e-12)
        assert ours["will_buy"] == theirs["will_buy"]


def test_every_route_answers_with_the_token_and_none_without(api):
    _, url = api
    visit = {"visits": [{"sex": "F", "age": 41, "mango": 30}]}
    with httpx.Client(base_url=url, headers=authorised(), timeout=30) as client:
        [predicted] = client.post("/predict", json=visit).json()
        assert 0 < predicted["probability"] < 1
        assert predicted["model_version"] == client.get("/model").json()["version"]
        assert client.post("/explain", json=visit).status_code == 200
        assert "juice_" in client.get("/metrics").text
        assert client.get("/healthz").status_code == 200
        bad = client.post("/predict", json={"visits": [{"sex": "X", "age": -3}]})
        assert bad.status_code in (400, 422)
        assert "sex" in bad.text
    assert httpx.post(f"{url}/predict", json=visit).status_code == 401
    assert httpx.get(f"{url}/model").status_code == 401


def test_it_runs_as_a_user_not_root(api):
    name, _ = api
    assert podman("exec", name, "id", "-u").stdout.strip() != "0"
    assert podman("exec", name, "id", "-un").stdout.strip() == "bentoml"


def test_the_image_is_lean():
    size = int(podman("image", "inspect", "--format", "{{.Size}}", BENTO_IMAGE).stdout)
    assert size < SIZE_BOUND, f"{size / 1e9:.2f} GB"
    found = "command -v gcc cc g++ || true; ls /root/.cache 2>/dev/null || true"
    names = podman("run", "--rm", "--entrypoint", "sh", BENTO_IMAGE, "-c", found).stdout
    assert names.strip() == ""  # no compilers, no caches


def test_without_a_token_it_refuses_to_start_and_says_why(images):
    done = podman("run", "--rm", BENTO_IMAGE, timeout=120, check=False)
    assert done.returncode != 0
    assert "without a token" in done.stdout + done.stderr
    assert "JUICE_API_TOKEN" in done.stdout + done.stderr


def test_a_sigterm_stops_it_cleanly_within_the_grace_period(images):
    name = f"poljuice-test-stop-{os.getpid()}"
    port = free_port()
    with container(
        name, BENTO_IMAGE, "-p", f"127.0.0.1:{port}:3000", "-e", f"JUICE_API_TOKEN={TOKEN}"
    ):
        eventually(
            lambda: answered(f"http://127.0.0.1:{port}/readyz"), "ready service", timeout=120
        )
        started = time.monotonic()
        podman("stop", "--time", "30", name, timeout=60)  # SIGTERM, then SIGKILL after 30 s
        took = time.monotonic() - started
        state = json.loads(podman("inspect", name).stdout)[0]["State"]
    assert took < 30, f"killed, not stopped: {took:.1f} s"
    assert state["ExitCode"] == 0
