#!/bin/bash
# The stack's service images from Debian's packages on our base:
#   localhost/poljuice-postgres:15         postgresql-15, entrypoint initdb + user/databases from env
#   localhost/poljuice-prometheus:2.42     prometheus (with promtool)
#   localhost/poljuice-pushgateway:1.5     prometheus-pushgateway
#   localhost/poljuice-alertmanager:0.25   prometheus-alertmanager (with amtool)
#   localhost/poljuice-mlflow:3.17.2       deployments/mlflow/Dockerfile on our Python base
# apt reads this machine's Debian sources, mounted for the build only (never in an image).
#   ./build-services.sh [postgres] [prometheus] [pushgateway] [alertmanager] [mlflow]   (default: all)
set -euo pipefail
source "$(dirname "$0")/common.sh"
BASE_IMAGE=$BASE_IMAGE
FORCE= "$HERE/make-python.sh" >/dev/null   # the base, and the Python base MLflow needs
"$HERE/apt-sources.py" list "$BUILD/apt" >/dev/null
APT=(--volume "$BUILD/apt:/etc/apt/sources.list.d:ro" --build-arg BASE_IMAGE="$BASE_IMAGE")
build() {  # tag context [podman build options]
  local tag=$1 ctx=$2; shift 2
  local start; start=$(date +%s)
  mkdir -p "$BUILD/logs"
  nice -n 10 podman build "${APT[@]}" "$@" -t "$tag" "$ctx" >"$BUILD/logs/build-${tag##*/}.txt" 2>&1 \
    || { tail -20 "$BUILD/logs/build-${tag##*/}.txt"; exit 1; }
  echo "$tag: $(( $(date +%s) - start )) s, $(podman images --format '{{.Size}}' "$tag")"
}
for s in "${@:-postgres prometheus pushgateway alertmanager mlflow}"; do for s in $s; do case $s in
  postgres)     build localhost/poljuice-postgres:15 "$HERE/postgres" ;;
  prometheus)   build localhost/poljuice-prometheus:2.42 "$HERE/monitoring" --target prometheus ;;
  pushgateway)  build localhost/poljuice-pushgateway:1.5 "$HERE/monitoring" --target pushgateway ;;
  alertmanager) build localhost/poljuice-alertmanager:0.25 "$HERE/monitoring" --target alertmanager ;;
  mlflow)
    pin_requirements "$ROOT/deployments/mlflow/requirements.in" "$ROOT/deployments/mlflow/requirements.txt"
    build localhost/poljuice-mlflow:"$(sed -n 's/^mlflow==//p' "$ROOT/deployments/mlflow/requirements.txt")" \
      "$ROOT/deployments/mlflow" --build-arg PYTHON_IMAGE="$PYTHON_IMAGE" \
      --volume /etc/ssl/certs:/etc/ssl/certs:ro --volume "$HERE/uv.toml:/etc/uv/uv.toml:ro" ;;
  *) echo "unknown service image: $s" >&2; exit 2 ;;
esac; done; done
