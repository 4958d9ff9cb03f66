"""After a promotion: does the live service serve the new champion and answer with it?"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from juice.schema import AGE, AGE_MIN, SEX, SEX_CODES

PROBE = {"visits": [{SEX: SEX_CODES[0], AGE: AGE_MIN}]}  # the plainest valid visit
UNREACHABLE_SECONDS = 3.0  # never reached for this long: there is no service to verify


@dataclass(frozen=True)
class SmokeTest:
    """`passed` is None when no service could be reached: nothing was verified."""

    passed: bool | None
    detail: str


def smoke_test(
    url: str, version: str, token: str | None = None, wait_seconds: float = 30.0
) -> SmokeTest:
    """Waits up to `wait_seconds` for the service at `url` to serve `version` (its
    /model), then asks it for a prediction, which must come from that version."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    started = time.monotonic()
    deadline = started + wait_seconds
    reached, seen = False, None
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        while True:
            try:
                card = client.get("/model")
                reached = True
                seen = card.json().get("version") if card.status_code == 200 else None
                if seen == version:
                    answer = client.post("/predict", json=PROBE)
                    if answer.status_code != 200:
                        return SmokeTest(False, f"/predict answered {answer.status_code}")
                    served = answer.json()[0]["model_version"]
                    if served != version:
                        return SmokeTest(False, f"/predict answered with v{served}")
                    return SmokeTest(True, f"{url} serves v{version} and predicts with it")
                if card.status_code in (401, 403):
                    return SmokeTest(False, f"{url} refused the token ({card.status_code})")
            except httpx.TransportError:
                if not reached and time.monotonic() > started + UNREACHABLE_SECONDS:
                    return SmokeTest(None, f"no service answered at {url}: not verified")
            except (ValueError, KeyError, IndexError) as error:
                return SmokeTest(False, f"{url} answered something unexpected: {error}")
            if time.monotonic() > deadline:
                return SmokeTest(False, f"{url} still serves v{seen} after {wait_seconds:.0f} s")
            time.sleep(0.5)
