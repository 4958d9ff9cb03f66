# Sourced by the image scripts: where things are, and the names of our images.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)                 # the project
BUILD=${IMAGES_BUILD:-$ROOT/build/images}        # build contexts and logs (git-ignored; not hidden:
                                                 # BentoML refuses templates under a hidden folder)
BASE_IMAGE=${BASE_IMAGE:-localhost/poljuice-base:bookworm}
PYTHON_IMAGE=${PYTHON_IMAGE:-localhost/poljuice-python:bookworm}
UV=${UV:-$(command -v uv || echo "$HOME/.local/bin/uv")}
UV_IMAGE=localhost/uv:$("$UV" --version | awk '{print $2}')
mkdir -p "$BUILD/logs"

# The pinned closure of a requirements file, every version uv.lock's where the lock has the
# package; the committed copy rewritten only when it changes (tests/unit/deployments checks it).
#   pin_requirements IN.in OUT.txt
pin_requirements() {
  local lock=$BUILD/lock.txt
  (cd "$ROOT" && "$UV" export -q --frozen --no-dev --no-hashes --no-emit-project --no-header \
     --no-annotate -o "$lock")
  UV_SYSTEM_CERTS=1 "$UV" pip compile -q --python-version 3.11 --no-header --no-annotate \
    -c "$lock" -o "$BUILD/pinned.txt" "$1"
  cmp -s "$BUILD/pinned.txt" "$2" || cp "$BUILD/pinned.txt" "$2"
}
