#!/bin/bash
# Every image of the project, in order (`make images`): podman set up, our base images made
# when missing, the service images, the project's image and the bento's. Idempotent and
# cached: with nothing changed it takes seconds.
set -euo pipefail
source "$(dirname "$0")/common.sh"
step() {
  local start; start=$(date +%s); echo "== ${1##*/}"
  "$@"
  echo "== ${1##*/}: $(( $(date +%s) - start )) s"
}
step "$HERE/setup-podman.sh"
step "$HERE/make-python.sh"     # the base, uv, Python
step "$HERE/build-services.sh"
step "$HERE/build-app.sh"
step "$HERE/bento-image.sh"
podman image prune -f >/dev/null   # the untagged images earlier builds left
podman images --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep -E 'poljuice|/uv:' | sort
