#!/bin/bash
# uv as an image (localhost/uv:<version>, the layout of ghcr.io/astral-sh/uv, from this
# machine's uv binary) and the Python base with uv (localhost/poljuice-python:bookworm).
# Idempotent: each image is skipped when it exists (FORCE=1 remakes them).
#   ./make-python.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"
BASE_IMAGE=$BASE_IMAGE
UVX=$(dirname "$UV")/uvx

FORCE= "$HERE/make-base.sh"   # FORCE applies to this script's images only
exists() { [ -z "${FORCE:-}" ] && podman image exists "$1"; }

if exists "$UV_IMAGE"; then echo "$UV_IMAGE exists"; else
  ctx=$(mktemp -d); trap 'rm -rf "$ctx"' EXIT
  cp "$UV" "$ctx/uv"; cp "$UVX" "$ctx/uvx"
  podman build -q -f "$HERE/uv.Containerfile" -t "$UV_IMAGE" "$ctx" >/dev/null
  podman tag "$UV_IMAGE" localhost/uv:latest
  echo "$UV_IMAGE built"
fi
if exists "$PYTHON_IMAGE"; then echo "$PYTHON_IMAGE exists"; else
  podman build -q -f "$HERE/python.Containerfile" \
    --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg UV_IMAGE="$UV_IMAGE" \
    -t "$PYTHON_IMAGE" "$HERE" >/dev/null
  echo "$PYTHON_IMAGE built"
fi
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^($UV_IMAGE|$PYTHON_IMAGE) "
