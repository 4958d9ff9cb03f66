#!/bin/bash
# The project's image, localhost/poljuice-app:latest, from deployments/Dockerfile: its
# PYTHON_IMAGE and UV_IMAGE build arguments name images made here, and what the build needs
# of this machine (its CA bundle, uv told to trust it) is mounted for the build only.
#   deployments/containers/build-app.sh        env: APP_IMAGE, BUILD_OPTS (e.g. --no-cache)
set -euo pipefail
source "$(dirname "$0")/common.sh"
APP_IMAGE=${APP_IMAGE:-localhost/poljuice-app:latest}
FORCE= "$HERE/make-python.sh" >/dev/null
CTX=$BUILD/app   # the tracked files only: no workspace, venv or caches in the context
"$HERE/stage-project.sh" "$ROOT" "$CTX" pyproject.toml uv.lock README.md juice flows ui \
  deployments service.py params.yaml dvc.yaml bentofile.yaml
start=$(date +%s)
nice -n 10 podman build ${BUILD_OPTS:-} -f "$CTX/deployments/Dockerfile" \
  --build-arg PYTHON_IMAGE="$BASE_IMAGE" --build-arg UV_IMAGE="$UV_IMAGE" \
  --volume /etc/ssl/certs:/etc/ssl/certs:ro \
  --volume "$HERE/uv.toml:/etc/uv/uv.toml:ro" \
  -t "$APP_IMAGE" "$CTX" >"$BUILD/logs/build-app.txt" 2>&1 \
  || { tail -30 "$BUILD/logs/build-app.txt"; exit 1; }
echo "$APP_IMAGE: built in $(( $(date +%s) - start )) s"
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$APP_IMAGE"
