"""What the service needs before it starts, read once: settings, the input bound, the token."""

from __future__ import annotations

import gc
from dataclasses import dataclass

from juice.params import seconds_bound
from juice.serving.access import api_access
from juice.settings import Settings


@dataclass(frozen=True)
class Limits:
    """What one worker takes: requests in progress on the guarded routes (beyond that it
    sheds them), the largest JSON body and upload, and the seconds to send a body."""

    capacity: int = 256
    max_body_bytes: int = 32 << 20
    max_upload_bytes: int = 512 << 20
    body_seconds: float = 30.0


@dataclass(frozen=True)
class ServiceConfig:
    """The service's configuration: its decorators read it when the module is imported."""

    settings: Settings
    workers: int
    max_seconds: int  # the seconds bound of a visit's ads, as the dataset's
    token: str | None
    limits: Limits

    @classmethod
    def read(cls) -> ServiceConfig:
        """From the environment (JUICE_*) and the workspace's params.yaml.

        Raises:
            ValueError: it would listen beyond loopback (JUICE_API_HOST) without the
                token and without JUICE_API_ALLOW_ANONYMOUS: it must not start.
        """
        settings = Settings()
        api_access(settings.api_host, settings.token, settings.api_allow_anonymous)
        return cls(
            settings=settings,
            workers=settings.api_workers,
            max_seconds=seconds_bound(settings),
            token=settings.token,
            limits=Limits(
                capacity=settings.api_capacity,
                max_body_bytes=settings.api_max_body_bytes,
                max_upload_bytes=settings.api_max_upload_bytes,
                body_seconds=settings.api_body_seconds,
            ),
        )


def steady_collector() -> None:
    """Python's garbage collector tuned for a serving worker (call once it is loaded).

    A full collection walks every object the frameworks and the model left on the heap,
    pausing the worker for hundreds of milliseconds: that was the p99 of one-visit
    requests (measured: p99 250-500 ms at p50 10 ms; collector off, 25 ms). Objects
    alive at start-up are frozen out of collections, and the young generation collects
    every 50,000 allocations instead of 700, so full collections come rarely and walk
    only what serving created.
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 1000)
