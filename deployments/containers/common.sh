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
