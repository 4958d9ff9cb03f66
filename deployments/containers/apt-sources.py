#!/usr/bin/env python3
"""The Debian mirror this machine's apt uses, read from its sources at build time (never
written into the project or an image).

    apt-sources.py mirror [SUITE]   the URI serving SUITE (default: bookworm) main
    apt-sources.py list DIR [SUITE] DIR/debian.list: every enabled entry for SUITE, SUITE-updates,
                                    SUITE-security, SUITE-backports (one-line format, no
                                    signed-by: the image's debian-archive-keyring checks them),
                                    for `podman build --volume DIR:/etc/apt/sources.list.d:ro`

Reads /etc/apt/sources.list and /etc/apt/sources.list.d/*.list (one-line format) and
/etc/apt/sources.list.d/*.sources (deb822); other names (e.g. *.disabled) are ignored, as
apt ignores them. APT_SOURCES_ROOT replaces /etc/apt (tests).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(os.environ.get("APT_SOURCES_ROOT", "/etc/apt"))


def one_line(text: str):
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.match(r"(deb|deb-src)\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
        if m:
            yield m.group(1), m.group(3), m.group(4), m.group(5).split()


def deb822(text: str):
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for raw in stanza.splitlines():
            if raw.startswith("#"):
                continue
            if raw[:1] in (" ", "\t") and key:
                fields[key] += " " + raw.strip()
                continue
            if ":" in raw:
                key, value = raw.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if fields.get("enabled", "yes").lower() == "no":
            continue
        for kind in fields.get("types", "").split():
            for uri in fields.get("uris", "").split():
                for suite in fields.get("suites", "").split():
                    yield kind, uri, suite, fields.get("components", "").split()


def entries():
    files = []
    if (ROOT / "sources.list").is_file():
        files.append(ROOT / "sources.list")
    d = ROOT / "sources.list.d"
    if d.is_dir():
        files += sorted(p for p in d.iterdir() if p.suffix in (".list", ".sources"))
    for path in files:
        parse = deb822 if path.suffix == ".sources" else one_line
        yield from parse(path.read_text(errors="replace"))


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("mirror", "list"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "mirror":
        suite = argv[1] if len(argv) > 1 else "bookworm"
        for kind, uri, s, comps in entries():
            if kind == "deb" and s == suite and "main" in comps:
                print(uri.rstrip("/"))
                return 0
        print(f"no 'deb ... {suite} main' entry in {ROOT}", file=sys.stderr)
        return 1
    out = Path(argv[1])
    suite = argv[2] if len(argv) > 2 else "bookworm"
    wanted = re.compile(rf"{re.escape(suite)}(-updates|-security|-backports|/updates)?$")
    lines = sorted(
        {
            f"deb {uri} {s} {' '.join(c)}"
            for kind, uri, s, c in entries()
            if kind == "deb" and wanted.match(s)
        }
    )
    if not lines:
        print(f"no {suite} entries in {ROOT}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    (out / "debian.list").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
