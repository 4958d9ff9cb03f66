"""The monitoring secret and the web configuration of Alertmanager and the Pushgateway, made
once in a folder the stack's containers share (compose.yaml's `secrets` volume at /secrets).

One machine keeps them in the workspace (`juice up`). In compose each monitoring service is an
image of its own, running as a user of its own, so the files are readable by every user of the
containers that mount the volume (and only those containers mount it). Run again, it keeps the
secret and rewrites nothing that still matches it.

    python -m deployments.monitoring_secrets /secrets
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from juice.monitoring.prometheus import render_web_config
from juice.secrets import shared_secret
from juice.settings import Settings

READABLE = 0o644


def make_secrets(folder: Path) -> tuple[Path, Path]:
    """The secret (`monitoring`) and the web configuration (`web.yml`) in `folder`."""
    secret, web_config = folder / "monitoring", folder / "web.yml"
    shared_secret(secret)
    os.chmod(secret, READABLE)
    if not web_config.exists() or secret.stat().st_mtime > web_config.stat().st_mtime:
        partial = folder / f".web.yml.{os.getpid()}"
        partial.write_text(render_web_config(Settings(monitoring_secret_path=secret)))
        os.chmod(partial, READABLE)
        partial.replace(web_config)  # whole, for a Pushgateway that reads it at every request
    return secret, web_config


def main() -> None:  # pragma: no cover - the command line of make_secrets
    if len(sys.argv) != 2:
        sys.exit("usage: python -m deployments.monitoring_secrets FOLDER")
    for path in make_secrets(Path(sys.argv[1])):
        print(f"{path}")


if __name__ == "__main__":
    main()
