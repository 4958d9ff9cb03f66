"""The web app's client of the prediction service: requests sent, failures as sentences."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from juice.adapters.processes import free_port
from ui.client import ServiceClient, ServiceError

URL = "http://juice.test:3000"
ANSWER = {"probability": 0.63, "will_buy": True, "threshold": 0.5, "model_version": "2"}


def client_answering(respond, token: str | None = None, seen: list | None = None) -> ServiceClient:
    """A client whose requests go to `respond(request) -> httpx.Response` (kept in `seen`)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return respond(request)

    return ServiceClient(URL, token, timeout=2, transport=httpx.MockTransport(handler))


def test_predict_sends_one_visit_with_the_token_and_returns_its_answer():
    seen: list[httpx.Request] = []
    client = client_answering(lambda r: httpx.Response(200, json=[ANSWER]), "s3cret", seen)
    assert client.predict({"sex": "F", "age": 41}) == ANSWER
    [request] = seen
    assert request.url == f"{URL}/predict"
    assert request.method == "POST"
    assert json.loads(request.content) == {"visits": [{"sex": "F", "age": 41}]}
    assert request.headers["authorization"] == "Bearer s3cret"


def test_the_seconds_bound_is_read_from_the_services_openapi_document_once_a_minute(
    monkeypatch,
):
    from ui import client as module

    seen: list[httpx.Request] = []
    visit = {"sex": {"enum": ["F", "M"]}, "age": {"maximum": 100}, "apple": {"maximum": 600},
             "lime": {"maximum": 600}}  # fmt: skip
    document = {"components": {"schemas": {"Visit": {"properties": visit}}}}
    client = client_answering(lambda r: httpx.Response(200, json=document), seen=seen)
    assert client.seconds_bound() == 600
    assert client.seconds_bound() == 600
    assert [r.url.path for r in seen] == ["/docs.json"]
    monkeypatch.setattr(module, "BOUND_SECONDS", 0.0)
    assert client.seconds_bound() == 600
    assert len(seen) == 2
    silent = client_answering(lambda r: httpx.Response(200, json={"openapi": "3.0.2"}))
    assert silent.seconds_bound() is None


def test_explain_and_the_card_use_their_routes_and_no_token_means_no_header():
    seen: list[httpx.Request] = []
    client = client_answering(
        lambda r: httpx.Response(200, json={"version": "2"} if r.method == "GET" else [ANSWER]),
        seen=seen,
    )
    client.explain({"sex": "M", "age": 30})
    assert client.model_card() == {"version": "2"}
    assert [(r.method, r.url.path) for r in seen] == [("POST", "/explain"), ("GET", "/model")]
    assert all("authorization" not in r.headers for r in seen)


def test_a_file_is_sent_asking_for_the_broken_lines_to_be_skipped(tmp_path: Path):
    seen: list[httpx.Request] = []
    scored = b"sex,age,probability,will_buy\nM,30,0.2,false\nF,40,0.7,true\n"
    rejected = json.dumps([[3, "age: not a number"], [9, "4 fields"]])
    headers = {"X-Rows-Scored": "2", "X-Rows-Rejected": "61", "X-Model-Version": "2",
               "X-Rejected-Lines": rejected}  # fmt: skip
    client = client_answering(lambda r: httpx.Response(200, content=scored, headers=headers),
                              seen=seen)  # fmt: skip
    export = tmp_path / "visits.csv"
    export.write_bytes(b"M,30\nF,40\n")
    result = client.score_file(export, tmp_path / "scored.csv")
    assert result.path.read_bytes() == scored
    assert (result.rows_scored, result.rows_rejected, result.model_version) == (2, 61, "2")
    assert result.rejected_lines == [(3, "age: not a number"), (9, "4 fields")]
    [request] = seen
    body = request.content
    assert request.url.path == "/predict_csv"
    assert b'name="file"; filename="visits.csv"' in body
    assert b"M,30\nF,40\n" in body
    assert b'name="broken_lines"\r\n\r\nskip' in body


def test_without_count_headers_the_rows_are_counted_in_the_answer(tmp_path: Path):
    scored = b"sex,age,probability,will_buy\nM,30,0.2,false\nF,40,0.7,true"
    client = client_answering(lambda r: httpx.Response(200, content=scored))
    export = tmp_path / "visits.csv"
    export.write_bytes(b"M,30\nF,40\n")
    result = client.score_file(export, tmp_path / "scored.csv")
    assert (result.rows_scored, result.rows_rejected, result.rejected_lines) == (2, 0, [])


def _error(status: int, error: str | None = None, **body) -> httpx.Response:
    return httpx.Response(status, json={"error": error, "detail": [], **body})


SERVICE = f"The prediction service at {URL}"
FAILURES = {
    "token refused": (
        _error(401, "authorization: a valid header is required"),
        "old",
        f"{SERVICE} refused the access token; ask the data team for the current one.",
    ),
    "token missing": (
        _error(401),
        None,
        f"{SERVICE} requires an access token; set JUICE_API_TOKEN where the app runs.",
    ),
    "route missing": (
        _error(404),
        None,
        f"{SERVICE} does not offer /explain; it may need an update (ask the data team).",
    ),
    "bad input": (
        _error(400, "visits.0.age: Input should be greater than or equal to 18"),
        None,
        "The service refused the visit: visits.0.age: Input should be greater than or equal to 18.",
    ),
    "bad input without error": (
        httpx.Response(400, json={"detail": [{"loc": ["age"], "msg": "too young"}]}),
        None,
        "The service refused the visit: age: too young.",
    ),
    "busy": (
        _error(503, "overloaded"),
        None,
        f"{SERVICE} is busy or starting; try again in a few seconds.",
    ),
    "server error": (
        httpx.Response(500, text="Traceback (most recent call last): ..."),
        None,
        (
            f"{SERVICE} failed on this request (HTTP 500); try again, and tell the data team if it "
            "keeps happening."
        ),
    ),
    "not JSON": (
        httpx.Response(200, text="<html>"),
        None,
        f"{SERVICE} answered /explain with something not JSON.",
    ),
    "not one answer": (
        httpx.Response(200, json=[]),
        None,
        f"{SERVICE} did not answer with one result for one visit.",
    ),
}


@pytest.mark.parametrize("case", FAILURES)
def test_each_failure_is_one_sentence_to_act_on(case):
    answer, token, sentence = FAILURES[case]
    client = client_answering(lambda r: answer, token)
    with pytest.raises(ServiceError) as caught:
        client.explain({"sex": "M", "age": 30})
    assert str(caught.value) == sentence


def test_a_broken_file_is_refused_with_the_services_reason(tmp_path: Path):
    refusal = _error(400, "file: cannot split the file into lines")
    client = client_answering(lambda r: refusal)
    export = tmp_path / "binary.csv"
    export.write_bytes(bytes(range(256)))
    with pytest.raises(
        ServiceError,
        match=r"^The service refused the file binary.csv: cannot split the file into lines\.$",
    ):
        client.score_file(export, tmp_path / "scored.csv")


def test_a_service_that_does_not_answer_in_time():
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ServiceError) as caught:
        client_answering(slow).model_card()
    assert str(caught.value) == (
        f"The prediction service at {URL} did not answer within 2 seconds; try again in a moment."
    )


def test_an_address_where_nothing_listens_is_named():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceError) as caught:
        ServiceClient(url + "/").predict({"sex": "M", "age": 30})
    assert str(caught.value).startswith(f"The prediction service at {url} cannot be reached;")


def test_a_refused_file_names_its_first_broken_lines(tmp_path: Path):
    detail = [{"loc": ["file", "line", n], "msg": f"reason {n}"} for n in (3, 9, 12, 40)]
    refusal = httpx.Response(
        400, json={"error": "file: 4 of 4 lines break the export format", "detail": detail}
    )
    client = client_answering(lambda r: refusal)
    export = tmp_path / "broken.csv"
    export.write_text("x\n")
    with pytest.raises(ServiceError) as caught:
        client.score_file(export, tmp_path / "scored.csv")
    assert str(caught.value) == (
        "The service refused the file broken.csv: 4 of 4 lines break the export format "
        "(line 3: reason 3; line 9: reason 9; line 12: reason 12)."
    )


def test_a_file_over_the_services_limit_is_named_with_the_limit_in_mib(tmp_path: Path):
    limit = "is over the limit of 512 MiB (536,870,912 bytes)"
    client = client_answering(lambda r: _error(413, f"file: {limit}"))
    export = tmp_path / "big.csv"
    export.write_text("x\n")
    with pytest.raises(ServiceError) as caught:
        client.score_file(export, tmp_path / "scored.csv")
    assert str(caught.value) == f"The service refused the file big.csv: it {limit}."
