#!/bin/bash
# The API's image, localhost/poljuice:latest: `juice bento` (the workspace's champion packed,
# bentofile.yaml built) containerized by BentoML with podman, on our base and template (the
# bentofile's `docker` options), its Python packages pinned to uv.lock.
#   deployments/containers/bento-image.sh      env: JUICE_HOME (whose champion), IMAGE_TAG
set -euo pipefail
source "$(dirname "$0")/common.sh"
IMAGE_TAG=${IMAGE_TAG:-poljuice:latest}
VENV=${VENV:-$ROOT/.venv}
export BENTOML_DO_NOT_TRACK=true PATH=$(dirname "$UV"):$PATH   # bentoml build calls uv
export UV_SYSTEM_CERTS=1                                        # uv here trusts the host's bundle
FORCE= "$HERE/make-python.sh" >/dev/null

pin_requirements "$HERE/bento-requirements.in" "$HERE/requirements.bento.txt"
mkdir -p "$BUILD/bento/tmp"

cd "$ROOT"
BENTO=$("$VENV/bin/juice" bento --json | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["bento"])')
export BENTOML_HOME
BENTOML_HOME=$("$VENV/bin/python" -c 'from juice.settings import Settings; print(Settings().workspace.bentoml_home)')
echo "bento $BENTO"

# BentoML (1.4.39) reads the template again from its temporary copy of the bento and refuses
# a path outside the current directory: its TMPDIR must be under the working directory. One
# --opt volume only (BentoML joins several with ':').
cd "$BUILD/bento"
start=$(date +%s)
TMPDIR=$BUILD/bento/tmp nice -n 10 "$VENV/bin/bentoml" containerize "$BENTO" --backend podman \
  --opt network=host \
  --opt volume=/etc/ssl/certs:/etc/ssl/certs:ro \
  --opt build-arg=UV_SYSTEM_CERTS=1 \
  --opt build-arg=UV_IMAGE="$UV_IMAGE" \
  --image-tag "$IMAGE_TAG" >"$BUILD/logs/containerize.txt" 2>&1 \
  || { tail -30 "$BUILD/logs/containerize.txt"; exit 1; }
echo "$IMAGE_TAG: containerized in $(( $(date +%s) - start )) s"
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' "localhost/$IMAGE_TAG"
