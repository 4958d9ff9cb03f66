#!/bin/bash
# A copy of the project's tracked files (working tree, not only HEAD), for a build context:
#   ./stage-project.sh SRC DEST [PATH...]     (PATHs: what to copy; default: everything tracked)
# Files are copied only when their content changed (cmp), so mtimes and the layer cache hold;
# files no longer tracked are removed.
set -euo pipefail
SRC=$1 DEST=$2; shift 2
mkdir -p "$DEST"
list=$(mktemp); trap 'rm -f "$list"' EXIT
git -C "$SRC" ls-files -z --cached -- "$@" | while IFS= read -r -d '' f; do
  [ -e "$SRC/$f" ] || continue           # deleted in the working tree
  printf '%s\n' "$f" >>"$list"
  if ! cmp -s "$SRC/$f" "$DEST/$f" 2>/dev/null; then
    mkdir -p "$DEST/$(dirname "$f")"
    cp -p "$SRC/$f" "$DEST/$f"
  fi
done
# drop what is no longer listed
( cd "$DEST" && find . -type f | sed 's|^\./||' ) | sort >"$list.have"
sort "$list" | comm -23 "$list.have" - | while IFS= read -r f; do rm -f "$DEST/$f"; done
rm -f "$list.have"
echo "staged $(wc -l <"$list") files of $SRC in $DEST"
