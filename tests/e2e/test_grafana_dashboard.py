"""The Grafana dashboard against real data: every panel's query, its template variables
filled with values Prometheus really holds, returns numbers from a real Prometheus (on
compose's configuration and the repository's rules) scraping a real BentoML service that
has answered requests and a real Pushgateway holding a drift check's verdict.

No Grafana runs here (none is installable): Grafana sends these same PromQL expressions
to Prometheus' query API, after replacing the variables as done below."""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from waiting import eventually

from juice.adapters.commands import pushgateway_command
from juice.adapters.processes import bento_server, free_port, http_server
from juice.data.simulator import simulate
from juice.monitoring.drift import AGE_TEST, WATCH_SHARE_TEST, DriftReport, FeatureTest
from juice.monitoring.prometheus import RULES, write_monitoring_configs
from juice.monitoring.pushgateway import push_drift
from juice.secrets import basic_authorization
from juice.serving.api import request_visits
from juice.settings import Settings
from juice.workspace import PROJECT_ROOT

pytestmark = pytest.mark.e2e

DEPLOYMENTS = PROJECT_ROOT / "deployments"
DASHBOARD = DEPLOYMENTS / "grafana" / "dashboards" / "poljuice.json"
COMPOSE_PROMETHEUS = DEPLOYMENTS / "compose" / "prometheus.yml"
# Grafana's own variables: $__rate_interval is at least four scrape intervals (15 s in the
# stack); here scrapes are a second apart and the traffic seconds old, so 2m covers it.
GRAFANA_INTERVALS = {"__rate_interval": "2m", "__interval": "15s", "__range": "1h"}
PREFERRED = {"endpoint": "/predict", "feature": "mango"}  # what a person would pick first
FIRST_ANSWERS = 'bentoml_service_request_total{endpoint="/predict", http_response_code=~"200|400"}'
BROKEN = {"visits": [{"sex": "X", "age": 30}]}  # a 400 naming the field


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panel_queries() -> list[tuple[str, str, str]]:
    """(panel title, refId, expression) of every query of every panel."""
    return [(panel["title"], target["refId"], target["expr"])
            for panel in dashboard()["panels"] for target in panel.get("targets", [])]  # fmt: skip


@dataclass(frozen=True)
class Stack:
    prometheus: str

    def query(self, expression: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.prometheus}/api/v1/query", params={"query": expression})
        assert answer.status_code == 200, f"{expression}: {answer.text}"
        body = answer.json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def label_values(self, query: str) -> list[str]:
        """Grafana's `label_values(selector, label)`, as it asks Prometheus for it."""
        found = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query)
        assert found, f"not a label_values() query: {query}"
        selector, label = found.groups()
        answer = httpx.get(f"{self.prometheus}/api/v1/label/{label}/values",
                           params={"match[]": selector})  # fmt: skip
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]


def loopback_config(service: str, pushgateway: str, secret: Path) -> dict[str, Any]:
    """compose's prometheus.yml with its targets on this machine, the workspace's secret and
    one-second intervals: the same jobs, labels and rules, no container names to resolve."""
    config = yaml.safe_load(COMPOSE_PROMETHEUS.read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    del config["alerting"]  # no Alertmanager here; alerts are tests/e2e/test_monitoring.py's
    targets = {"juice_service": service, "pushgateway": pushgateway}
    for job in config["scrape_configs"]:
        for discovery in ("dns_sd_configs", "static_configs"):
            job.pop(discovery, None)
        job["static_configs"] = [{"targets": [targets.pop(job["job_name"])]}]
        if "basic_auth" in job:
            job["basic_auth"]["password_file"] = str(secret)
    assert not targets, f"compose's Prometheus does not scrape {sorted(targets)}"
    return config


def drift_check_verdict() -> DriftReport:
    """A check that found the mango ad's watch share moved and age did not."""
    mango = FeatureTest(feature="mango", test=WATCH_SHARE_TEST, statistic=48.0, p_value=2e-8,
                        effect=0.12, drift=True, raw_p_value=1e-9)  # fmt: skip
    age = FeatureTest(feature="age", test=AGE_TEST, statistic=0.02, p_value=0.64,
                      effect=0.02, drift=False, raw_p_value=0.32)  # fmt: skip
    return DriftReport(verdict="drift", drift=True, drifted_features=["mango"],
                       concept_drift=False, window_rows=2400, reference_rows=3000,
                       tests=[mango, age], concept=None)  # fmt: skip


@pytest.fixture(scope="module")
def stack(champion_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The service with traffic (good and bad requests), a drift verdict pushed, and
    Prometheus on compose's configuration having scraped both and evaluated the rules."""
    prometheus_binary = shutil.which("prometheus")
    if prometheus_binary is None:
        pytest.fail("prometheus is missing: `make system` installs it")
    folder = tmp_path_factory.mktemp("dashboard")
    service, service_url = bento_server("service:PolJuice", champion_home)
    push_port, prometheus_port = free_port(), free_port()
    pushgateway_url = f"http://127.0.0.1:{push_port}"
    prometheus_url = f"http://127.0.0.1:{prometheus_port}"
    settings = Settings(home=folder, pushgateway_port=push_port)
    write_monitoring_configs(settings)  # the Pushgateway's basic auth
    config = loopback_config(service_url.removeprefix("http://"), f"127.0.0.1:{push_port}",
                             settings.monitoring_secret_file)  # fmt: skip
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copyfile(RULES, folder / "rules.yml")
    prometheus = [prometheus_binary, f"--config.file={folder / 'prometheus.yml'}",
                  f"--storage.tsdb.path={folder / 'tsdb'}",
                  f"--web.listen-address=127.0.0.1:{prometheus_port}"]  # fmt: skip
    with ExitStack() as servers:  # stopped in reverse order, whatever fails
        servers.enter_context(
            http_server(
                pushgateway_command(settings),
                f"{pushgateway_url}/-/ready",
                headers=basic_authorization(*settings.monitoring_auth()),
            )
        )
        servers.enter_context(service)
        servers.enter_context(http_server(prometheus, f"{prometheus_url}/-/ready"))
        stack = Stack(prometheus_url)
        visits = request_visits(simulate(400, seed=3))
        with httpx.Client(base_url=service_url, timeout=30) as client:
            # BentoML's request series are born with their first request (a route's 200, its
            # first 400): one of each, scraped, then the traffic, so that rates see it arrive
            # (as in a live stack, where the series exist long before).
            assert client.post("/predict", json={"visits": visits[:1]}).status_code == 200
            assert client.post("/predict", json=BROKEN).status_code == 400
            eventually(lambda: len(stack.query(FIRST_ANSWERS)) == 2, "the first answers scraped")
            for start in range(0, len(visits), 100):
                answer = client.post("/predict", json={"visits": visits[start : start + 100]})
                assert answer.status_code == 200, answer.text
            assert client.post("/predict", json=BROKEN).status_code == 400  # a client mistake
            assert client.get("/model").status_code == 200
        push_drift(pushgateway_url, drift_check_verdict(), model_version="1",
                   auth=settings.monitoring_auth())  # fmt: skip
        eventually(lambda: stack.query("juice:visits_decided_buy:ratio1h"), "hourly buy share")
        eventually(lambda: stack.query("juice_drift_detected == 1"), "the pushed verdict")
        yield stack


@pytest.fixture(scope="module")
def variables(stack: Stack) -> dict[str, str]:
    """Each template variable filled with a value its own query finds in Prometheus."""
    filled = dict(GRAFANA_INTERVALS)
    for variable in dashboard()["templating"]["list"]:
        values = stack.label_values(variable["query"])
        assert values, f"variable {variable['name']} finds no value"
        preferred = PREFERRED.get(variable["name"])
        filled[variable["name"]] = preferred if preferred in values else values[0]
    return filled


def fill(expression: str, variables: dict[str, str]) -> str:
    """Grafana's substitution of `$name` and `${name}` (single values need no escaping:
    route paths and feature names hold no regex metacharacters)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in variables, f"unknown variable ${name} in {expression}"
        return variables[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expression)


def test_the_variables_find_the_real_routes_and_features(variables):
    assert variables["endpoint"] == "/predict"
    assert variables["feature"] == "mango"


@pytest.mark.parametrize(("title", "ref", "expression"), panel_queries())
def test_every_panel_query_returns_numbers(stack, variables, title, ref, expression):
    result = stack.query(fill(expression, variables))
    assert result, f"{title!r} ({ref}) returned no data"
    values = [float(sample["value"][1]) for sample in result]
    assert all(math.isfinite(value) for value in values), f"{title!r} ({ref}): {values}"


def test_the_panels_show_what_happened(stack, variables):
    """Beyond "some data": the figures a person would read off the dashboard are right."""

    def values(title: str, ref: str = "A") -> dict[str, float]:
        [expression] = [e for t, r, e in panel_queries() if (t, r) == (title, ref)]
        result = stack.query(fill(expression, variables))
        return {json.dumps(sample["metric"], sort_keys=True): float(sample["value"][1])
                for sample in result}  # fmt: skip

    [champion] = stack.query('max by (version) (juice_model_info{job="juice_service"}) == 1')
    assert champion["metric"]["version"] == "1"
    assert list(values("Last verdict: feature drift").values()) == [1.0]
    assert list(values("Features drifted").values()) == [1.0]
    assert list(values("Visits in the last window").values()) == [2400.0]
    p_values = values("p-values of the last check (Benjamini-Hochberg corrected)")
    assert p_values == {'{"feature": "mango", "test": "watch-share-chi-square"}': 2e-8}
    [client_errors] = values("Errors: share of answers that are not 2xx", "A").values()
    [server_errors] = values("Errors: share of answers that are not 2xx", "B").values()
    assert 0 < client_errors < 1  # one refused request among the /predict ones
    assert server_errors == 0
    decided = values("Visits scored per second by decision")
    assert set(decided) == {'{"decision": "buy"}', '{"decision": "no_buy"}'}
    assert all(rate > 0 for rate in decided.values())
