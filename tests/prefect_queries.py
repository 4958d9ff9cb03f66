"""What a Prefect server holds, asked through Prefect's own client."""

from __future__ import annotations

import time


def deployment_names(api: str, expected: int = 6, timeout: float = 60) -> set[str]:
    """`flow/deployment` of every deployment on the server at `api` (and `...:scheduled` for
    those with a schedule), once `expected` of them are there or `timeout` has passed."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        deadline = time.monotonic() + timeout
        while True:
            found = client.read_deployments()
            if len(found) >= expected or time.monotonic() > deadline:
                break
            time.sleep(1)
        flows = {flow.id: flow.name for flow in client.read_flows()}
        return {f"{flows[d.flow_id]}/{d.name}" for d in found} | {
            f"{flows[d.flow_id]}/{d.name}:scheduled" for d in found if d.schedules
        }
