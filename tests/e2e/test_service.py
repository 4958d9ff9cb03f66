"""The BentoML service against a real `bentoml serve` on loopback."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pytest
from factories import append_lines, row, small_train_params
from scipy.special import logit
from waiting import eventually, run_async

from juice.adapters.processes import bento_server
from juice.data.simulator import simulate, write_export
from juice.model.matrix import to_matrix
from juice.model.training import train_model
from juice.registry import promotion, runs
from juice.registry.store import Registry
from juice.schema import FLAVOURS, RAW_COLUMNS
from juice.serving.api import EXAMPLE_VISIT, MAX_VISITS, request_visits
from juice.settings import Settings
from juice.workspace import Workspace

pytestmark = pytest.mark.e2e


@contextmanager
def served(home: Path, target: str = "service:PolJuice", **env: str) -> Iterator[str]:
    """`bentoml serve` on loopback for the block; yields its URL."""
    server, url = bento_server(target, home, JUICE_RELOAD_SECONDS="0.5", **env)
    with server:
        yield url


@pytest.fixture(scope="module")
def server_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("service") / "service.log"


@pytest.fixture(scope="module")
def server(champion_home, server_log) -> Iterator[str]:
    server, url = bento_server("service:PolJuice", champion_home, server_log,
                               JUICE_RELOAD_SECONDS="0.5")  # fmt: skip
    with server:
        yield url


def test_a_pooled_client_keeps_its_connection_through_uploads(server, server_log, tmp_path):
    """A keep-alive client (services pool their connections): an upload, then more
    requests on the same connection; a success logs no traceback."""
    export = write_export(simulate(200, seed=12), tmp_path / "e.csv", header=True)
    opened: list[object] = []
    with httpx.Client(base_url=server, timeout=30) as client:
        for _ in range(5):
            upload = client.post("/predict_csv", files={"file": export.open("rb")})
            assert upload.status_code == 200, upload.text
            answer = client.post("/predict", json={"visits": [EXAMPLE_VISIT]})
            assert answer.status_code == 200, answer.text
            opened.append(answer.extensions["network_stream"])
    assert len({id(stream) for stream in opened}) == 1  # one connection throughout
    logged = server_log.read_text()
    assert "Traceback" not in logged
    assert "ClientDisconnect" not in logged


def test_bentomls_own_client_predicts_and_uploads_through_its_request(server, tmp_path):
    """`bentoml.SyncHTTPClient` sees predict, explain and model; an upload goes through
    its `request` (the README's way), on the same pooled connection as the rest."""
    import bentoml

    export = write_export(simulate(100, seed=13), tmp_path / "e.csv", header=True)
    with bentoml.SyncHTTPClient(server) as client:
        for _ in range(3):
            with export.open("rb") as stream:
                scored = client.request("POST", "/predict_csv", files={"file": stream},
                                        data={"broken_lines": "skip"})  # fmt: skip
            assert scored.status_code == 200, scored.text
            assert scored.headers["x-rows-scored"] == "100"
            [answer] = client.predict(visits=[EXAMPLE_VISIT])
            assert 0 < answer["probability"] < 1


def test_probabilities_equal_the_registered_models(server, champion_home):
    frame = simulate(50, seed=3)
    answer = httpx.post(f"{server}/predict", json={"visits": request_visits(frame)}).json()
    pipeline, card = Registry(Settings(home=champion_home)).load("1")
    expected = pipeline.predict_proba(to_matrix(frame))[:, 1]
    np.testing.assert_allclose([a["probability"] for a in answer], expected, rtol=1e-12)
    assert [a["will_buy"] for a in answer] == list(expected >= card.threshold)
    assert {a["model_version"] for a in answer} == {"1"}


def test_flavours_are_optional_and_the_example_input_works(server):
    [answer] = httpx.post(f"{server}/predict", json={"visits": [{"sex": "M", "age": 30}]}).json()
    assert 0 < answer["probability"] < 1
    assert httpx.post(f"{server}/predict", json={"visits": [EXAMPLE_VISIT]}).status_code == 200


def test_csv_upload_is_scored_like_json(server, tmp_path):
    visits = simulate(40, seed=4)
    path = write_export(visits, tmp_path / "e.csv", header=True)
    response = httpx.post(
        f"{server}/predict_csv", files={"file": ("e.csv", path.read_bytes(), "text/csv")}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    scored = pl.read_csv(response.content)
    assert scored.columns == [*RAW_COLUMNS, "probability", "will_buy"]
    by_json = httpx.post(f"{server}/predict", json={"visits": request_visits(visits)}).json()
    np.testing.assert_allclose(
        scored["probability"], [a["probability"] for a in by_json], atol=1e-6
    )


def test_the_model_card_is_served_by_get_and_post(server):
    card = httpx.get(f"{server}/model").json()
    assert card == httpx.post(f"{server}/model").json()
    assert card["version"] == "1"
    assert card["dataset_version"] == "test"
    assert {"threshold", "metrics", "trained_at", "effects"} <= set(card)
    assert {effect["flavour"] for effect in card["effects"]} == set(FLAVOURS)
    thresholds = [row["threshold"] for row in card["targeting"]]
    assert len(thresholds) >= 50
    assert thresholds == sorted(thresholds)
    assert card["threshold"] in thresholds
    assert set(card["reference"]) == {"sex", "age"}


def test_explanations_add_up_to_the_predicted_log_odds(server):
    visits = request_visits(simulate(30, seed=8))
    predicted = httpx.post(f"{server}/predict", json={"visits": visits}).json()
    explained = httpx.post(f"{server}/explain", json={"visits": visits}).json()
    assert [e["probability"] for e in explained] == [p["probability"] for p in predicted]
    for visit, answer in zip(visits, explained, strict=True):
        assert set(answer["contributions"]) == {"sex", "age", *FLAVOURS}
        total = answer["baseline"] + sum(answer["contributions"].values())
        assert total == pytest.approx(logit(answer["probability"]), abs=1e-9)
        unwatched = [flavour for flavour in FLAVOURS if not visit.get(flavour)]
        assert all(answer["contributions"][flavour] == 0 for flavour in unwatched)


def test_a_file_with_broken_lines_can_have_its_good_rows_scored(server, tmp_path):
    path = write_export(simulate(30, seed=6), tmp_path / "e.csv")
    append_lines(path, "M,30,1,2", row(age="7"))
    upload = {"file": ("e.csv", path.read_bytes(), "text/csv")}
    refused = httpx.post(f"{server}/predict_csv", files=upload)
    assert refused.status_code == 400
    assert [d["loc"][-1] for d in refused.json()["detail"]] == [31, 32]

    scored = httpx.post(f"{server}/predict_csv", files=upload, data={"broken_lines": "skip"})
    assert scored.status_code == 200, scored.text
    assert pl.read_csv(scored.content).height == 30
    assert (scored.headers["x-rows-scored"], scored.headers["x-rows-rejected"]) == ("30", "2")
    rejected = json.loads(scored.headers["x-rejected-lines"])
    assert [line for line, _ in rejected] == [31, 32]
    assert "age" in rejected[1][1]
    clean = write_export(simulate(30, seed=6), tmp_path / "clean.csv")
    alone = httpx.post(f"{server}/predict_csv", files={"file": ("c.csv", clean.read_bytes())})
    assert scored.content == alone.content


def test_a_file_with_no_good_row_is_refused_even_when_skipping(server):
    upload = {"file": ("b.bin", bytes(range(256)) * 8)}
    response = httpx.post(f"{server}/predict_csv", files=upload, data={"broken_lines": "skip"})
    assert response.status_code == 400
    assert response.json()["error"].startswith("file:")


def one(**changes):
    return {"visits": [{"sex": "M", "age": 30} | changes]}


BAD_JSON = {
    "unknown field": (one(kiwi=3), "kiwi"),
    "missing field": ({"visits": [{"age": 30}]}, "sex"),
    "wrong type": (one(age="30"), "age"),
    "float for an integer": (one(apple=1.5), "apple"),
    "out of range": (one(age=17), "age"),
    "negative seconds": (one(mango=-1), "mango"),
    "absurd seconds": (one(mango=10**9), "mango"),
    "bad sex": (one(sex="X"), "sex"),
    "empty list": ({"visits": []}, "visits"),
    "too many visits": ({"visits": [{"sex": "M", "age": 30}] * (MAX_VISITS + 1)}, "visits"),
    "no visits key": ({"visitors": []}, "visits"),
    "unknown top-level key": ({"visits": [{"sex": "M", "age": 30}], "visitz": 1}, "visitz"),
    "not an object": ([1, 2], ""),
}


@pytest.mark.parametrize("route", ["/predict", "/explain"])
@pytest.mark.parametrize("case", BAD_JSON)
def test_bad_json_gets_a_400_naming_the_field(server, case, route):
    body, field = BAD_JSON[case]
    response = httpx.post(f"{server}{route}", json=body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["detail"]
    assert field in json.dumps(payload["detail"][0]["loc"])


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"visits": [{"sex": "M", "age": 3', "application/json", 400),
        (b'{"visits": [{"sex": "M", "age": NaN}]}', "application/json", 400),
        (b"sex=M&age=30", "application/x-www-form-urlencoded", 415),
    ],
)
def test_malformed_bodies_and_wrong_content_types_are_4xx(server, content, content_type, status):
    response = httpx.post(
        f"{server}/predict", content=content, headers={"content-type": content_type}
    )
    assert response.status_code == status
    assert "detail" in response.json()


@pytest.mark.parametrize(
    ("upload", "words"),
    [
        ({"files": {"file": ("e.csv", b"M,30,1,2\n")}}, "line"),
        ({"files": {"file": ("e.csv", b"")}}, "empty"),
        ({"files": {"other": ("e.csv", b"M,30\n")}}, "file"),
        (
            {
                "content": b"--x\r\ngarbage",
                "headers": {"content-type": "multipart/form-data; boundary=x"},
            },
            "file",
        ),
        ({"json": {"file": "M,30"}}, "content-type"),
        ({"files": {"file": ("e.csv", ",".join(RAW_COLUMNS).encode() + b"\n")}}, "no visit"),
        ({"files": [("file", ("a.csv", b"M,30\n")), ("file", ("b.csv", b"M,30\n"))]}, "file"),
        ({"files": {"file": ("e.csv", b"M,30\n")}, "data": {"broken_lines": "maybe"}}, "broken"),
    ],
)
def test_bad_uploads_are_4xx_naming_the_rule(server, upload, words):
    response = httpx.post(f"{server}/predict_csv", **upload)
    assert 400 <= response.status_code < 500, response.text
    assert words in response.text


def test_one_bad_visit_never_fails_other_callers(server):
    good = {"visits": [{"sex": "F", "age": 40, "lime": 20}]}
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(httpx.post, f"{server}/predict", json=good) for _ in range(60)]
        futures += [
            pool.submit(httpx.post, f"{server}/predict", json=one(age=5)) for _ in range(10)
        ]
        statuses = [f.result().status_code for f in futures]
    assert statuses == [200] * 60 + [400] * 10


def test_two_hundred_clients_of_two_thousand_visits_are_all_answered(server):
    """The load that got 1,857 503s from the adaptive batcher: slower, never failing."""
    body = {"visits": request_visits(simulate(2000, seed=8))}

    async def burst() -> list[int]:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=200), timeout=120) as c:
            answers = await asyncio.gather(
                *(c.post(f"{server}/predict", json=body) for _ in range(200))
            )
        return [answer.status_code for answer in answers]

    assert run_async(burst()) == [200] * 200
    after = httpx.post(f"{server}/predict", json={"visits": [{"sex": "M", "age": 30}]})
    assert after.status_code == 200


def test_a_long_client_file_name_is_not_used_on_disk(server, tmp_path):
    path = write_export(simulate(5, seed=6), tmp_path / "e.csv")
    name = "a" * 245 + ".csv"
    response = httpx.post(f"{server}/predict_csv", files={"file": (name, path.read_bytes())})
    assert response.status_code == 200, response.text
    assert response.headers["x-rows-scored"] == "5"


def test_metrics_and_prediction_log_follow_the_traffic(server, champion_home):
    before = _metric(server, "juice_predictions_total")
    httpx.post(f"{server}/predict", json={"visits": request_visits(simulate(25, seed=9))})
    text = httpx.get(f"{server}/metrics").text
    assert _metric(server, "juice_predictions_total") == before + 25
    for name in ("bentoml_service_request_total", "juice_predicted_probability_bucket",
                 "juice_ad_watched_visits_total", 'juice_model_info{version="1"} 1.0'):  # fmt: skip
        assert name in text
    deadline = time.monotonic() + 20
    logged = pl.DataFrame()
    while time.monotonic() < deadline and logged.height < before + 25:
        files = list(Workspace(champion_home).prediction_log.glob("*.parquet"))
        logged = pl.read_parquet(files) if files else logged
        time.sleep(0.5)
    assert logged.height >= before + 25
    assert {"time", "request_id", "model_version", "probability", "will_buy", *FLAVOURS} <= set(
        logged.columns
    )


def _metric(server: str, name: str) -> float:
    lines = httpx.get(f"{server}/metrics").text.splitlines()
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(name + "{"))


def test_a_new_champion_is_served_without_dropping_requests(server, champion_home):
    registry = Registry(Settings(home=champion_home))
    trained = train_model(simulate(3000, seed=22), small_train_params(watch=["watched"]))
    card = runs.log_training(registry, trained, {"dataset_version": "test2"}, {})
    seen, statuses = set(), []
    deadline = time.monotonic() + 30
    promoted = False
    with httpx.Client() as client:
        while time.monotonic() < deadline:
            response = client.post(f"{server}/predict", json=one(lime=20))
            statuses.append(response.status_code)
            seen.add(response.json()[0]["model_version"])
            if not promoted and len(statuses) > 20:
                promotion.promote(registry, card.version, "test: roll forward")
                promoted = True
            if (
                promoted
                and client.get(f"{server}/model").json()["version"] == card.version
                and len(seen) == 2
            ):
                # every worker must have switched: a run of answers from the new model only
                recent = [
                    client.post(f"{server}/predict", json=one()).json()[0]["model_version"]
                    for _ in range(20)
                ]
                if set(recent) == {card.version}:
                    break
    assert set(statuses) == {200}
    assert seen == {"1", card.version}
    assert (
        f'juice_model_info{{version="{card.version}"}} 1.0' in httpx.get(f"{server}/metrics").text
    )

    def switched() -> dict | None:  # a new connection each time: either worker may answer
        shown = httpx.get(f"{server}/model").json()["promotion"]
        return shown if shown["champion"] == card.version else None

    for _ in range(10):  # both workers, whichever answers, tell how it became the champion
        served = eventually(switched, "the promotion on /model")
        assert (served["by"], served["reason"]) == ("gate", "test: roll forward")
    promotion.promote(registry, "1", "test: roll back")


def test_schemathesis_finds_no_server_error_and_no_undocumented_response(server, tmp_path):
    checks = ",".join(
        ["not_a_server_error", "status_code_conformance", "content_type_conformance",
         "response_schema_conformance", "response_headers_conformance", "unsupported_method"]
    )  # fmt: skip
    done = subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "run", f"{server}/docs.json",
         "--checks", checks, "--max-examples", "40", "--request-timeout", "10", "--seed", "1"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,  # its cache, not the checkout's
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]


TOKEN = {"Authorization": "Bearer s3cret"}


@pytest.fixture(scope="module")
def bento(champion_home, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """`juice bento` from the workspace's champion, served from an empty workspace (no
    registry, no data) with the token on; yields (URL, the champion it was built from)."""
    champion = Registry(Settings(home=champion_home)).champion_version()
    stores = tmp_path_factory.mktemp("bento")
    env = {"BENTOML_HOME": str(stores / "bentoml"), "BENTOML_DO_NOT_TRACK": "true"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "juice"), "bento", "--json"],
        env={**os.environ, "JUICE_HOME": str(champion_home), **env},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    tag = json.loads(done.stdout)["bento"]
    [src] = (stores / "bentoml" / "bentos").glob(f"{tag.replace(':', '/')}/src")
    assert (src / "service.py").exists()
    assert not (src / "tests").exists()
    assert not (src / "data").exists()
    assert not (src / "mlflow.db").exists()
    (stores / "elsewhere").mkdir()
    with served(stores / "elsewhere", tag, JUICE_API_TOKEN="s3cret", JUICE_API_WORKERS="1",
                **env) as url:  # fmt: skip
        yield url, champion


def test_a_bento_carries_the_champion_and_serves_it_without_a_registry(champion_home, bento):
    url, champion = bento
    assert httpx.get(f"{url}/model", headers=TOKEN).json()["version"] == champion
    frame = simulate(20, seed=8)
    answer = httpx.post(
        f"{url}/predict", json={"visits": request_visits(frame)}, headers=TOKEN
    ).json()
    pipeline, _ = Registry(Settings(home=champion_home)).load(champion)
    np.testing.assert_allclose(
        [a["probability"] for a in answer], pipeline.predict_proba(to_matrix(frame))[:, 1]
    )
    assert {a["model_version"] for a in answer} == {champion}


def test_the_token_guards_prediction_and_model_routes(bento):
    url, _ = bento
    body = one()
    assert httpx.post(f"{url}/predict", json=body).status_code == 401
    assert httpx.post(f"{url}/explain", json=body).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert httpx.post(f"{url}/predict", json=body, headers=wrong).status_code == 401
    assert httpx.get(f"{url}/model").status_code == 401
    assert httpx.post(f"{url}/predict_csv", files={"file": ("e.csv", b"")}).status_code == 401
    assert httpx.post(f"{url}/predict", json=body, headers=TOKEN).status_code == 200
    assert httpx.post(f"{url}/explain", json=body, headers=TOKEN).status_code == 200
    lower = {"Authorization": "bearer s3cret"}  # the scheme is case-insensitive
    assert httpx.post(f"{url}/predict", json=body, headers=lower).status_code == 200
    assert httpx.get(f"{url}/model").headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(f"{url}/model", headers=TOKEN).status_code == 200
    assert httpx.get(f"{url}/record").status_code == 401
    assert httpx.get(f"{url}/record", headers=TOKEN).json()["version"]  # a bento: no registry


def test_the_openapi_document_declares_the_bearer_token_the_routes_need(bento, server):
    url, _ = bento
    document = httpx.get(f"{url}/docs.json").json()  # open: it says how to call
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer",
        "description": "The service's token (JUICE_API_TOKEN): `Authorization: Bearer <token>`",
    }  # fmt: skip
    for path in ("/predict", "/explain", "/predict_csv", "/model", "/record"):
        assert document["paths"][path]["post"]["security"] == [{"bearer": []}], path
        assert "401" in document["paths"][path]["post"]["responses"], path
    open_document = httpx.get(f"{server}/docs.json").json()  # no token: nothing to send
    assert "securitySchemes" not in open_document["components"]
    assert "security" not in open_document["paths"]["/predict"]["post"]
    assert httpx.get(f"{url}/healthz").status_code == 200  # probes stay open
    assert httpx.get(f"{url}/metrics").status_code == 200
