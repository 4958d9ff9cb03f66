"""Past one machine, the flows go to a Kubernetes work pool: a real Prefect server accepts
the pool's base job template, and the registration script of the `prefect-deployments`
Job (deployments/k8s/prefect.yaml) puts every deployment of deployments/flows.py in it,
with its schedule, the image, and entrypoints relative to the image's /app."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import yaml
from waiting import in_a_thread

from deployments.flows import deployments
from juice.workspace import PROJECT_ROOT

pytestmark = pytest.mark.e2e

K8S = PROJECT_ROOT / "deployments" / "k8s"
POOL = "juice-k8s"


def deployments_job() -> dict[str, Any]:
    [job] = [document for document in yaml.safe_load_all((K8S / "prefect.yaml").read_text())
             if document["kind"] == "Job"
             and document["metadata"]["name"] == "prefect-deployments"]  # fmt: skip
    [container] = job["spec"]["template"]["spec"]["containers"]
    return container


async def _create_pool(template: dict[str, Any]) -> None:
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    async with get_client() as client:
        pool = WorkPoolCreate(name=POOL, type="kubernetes", base_job_template=template)
        await client.create_work_pool(pool, overwrite=True)


async def _pool_deployments() -> list[Any]:
    from prefect import get_client
    from prefect.client.schemas.filters import WorkPoolFilter, WorkPoolFilterName

    async with get_client() as client:
        pools = WorkPoolFilter(name=WorkPoolFilterName(any_=[POOL]))
        return await client.read_deployments(work_pool_filter=pools)


def test_the_deployments_job_registers_every_flow_with_the_pool(prefect_harness, workspace):
    in_a_thread(_registers_every_flow, workspace)


def _registers_every_flow(workspace: Any) -> None:
    template = json.loads((K8S / "prefect-work-pool.json").read_text())
    asyncio.run(_create_pool(template))
    container = deployments_job()
    assert container["workingDir"] == "/app"  # where the image holds the project
    [python, flag, script] = container["command"]
    assert (python, flag) == ("python", "-c")
    exec(compile(script, "deployments/k8s/prefect.yaml", "exec"), {})  # the Job's own script

    registered = asyncio.run(_pool_deployments())
    expected = {(d.flow_name, d.name) for d in deployments(workspace)}
    assert len(expected) == 6
    flows = {flow.id: flow.name for flow in asyncio.run(_flows())}
    assert {(flows[d.flow_id], d.name) for d in registered} == expected
    for deployment in registered:
        assert deployment.job_variables["image"] == container["image"]
        assert not deployment.entrypoint.startswith("/")  # found from /app in the job
        assert deployment.entrypoint.split(":")[0].startswith("flows/")
        assert (PROJECT_ROOT / deployment.entrypoint.split(":")[0]).is_file()
        assert not deployment.pull_steps
    crons = {(flows[d.flow_id], d.name): [s.schedule.cron for s in d.schedules]
             for d in registered}  # fmt: skip
    assert crons[("drift-check", "scheduled")] == [workspace.drift_cron]
    assert crons[("ingest", "scheduled")] == [workspace.ingest_cron]
    assert crons[("train", "on-demand")] == []


async def _flows() -> list[Any]:
    from prefect import get_client

    async with get_client() as client:
        return await client.read_flows()
