#!/bin/sh
# Podman on this machine (rootful, no systemd): the packages, then the settings it needs in
# /etc/containers/containers.conf, added only where missing (an existing file keeps every
# other line; a key already set, to any value, is left alone). Idempotent.
#   sudo ./setup-podman.sh            (about 10 s with the packages already fetched)
set -eu

if ! command -v podman >/dev/null || ! command -v runc >/dev/null \
   || ! command -v debootstrap >/dev/null || ! command -v buildah >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    podman runc debootstrap buildah uidmap slirp4netns fuse-overlayfs netavark aardvark-dns \
    containernetworking-plugins
fi

CONF=${CONF:-/etc/containers/containers.conf}  # another path for a test
mkdir -p /etc/containers
touch "$CONF"
# section key value: one TOML line per setting, inserted at the end of its section (the
# section appended when absent). Why each:
#   default_ulimits = []   podman's default nofile ulimit fails: setrlimit RLIMIT_NOFILE: Operation not permitted
#   cgroup_manager         no systemd here: cgroupfs
#   runtime = "runc"       crun refuses the hybrid cgroup v1/v2 layout of this kernel
#   events_logger = "file" no journald here (podman's default without systemd too; made explicit)
python3 - "$CONF" <<'EOF'
import re, sys
path = sys.argv[1]
wanted = [
    ("containers", "default_ulimits", "[]"),
    ("engine", "cgroup_manager", '"cgroupfs"'),
    ("engine", "runtime", '"runc"'),
    ("engine", "events_logger", '"file"'),
]
lines = open(path).read().splitlines()
def sections(lines):
    """(name, header index, end index) of every [table]."""
    out, cur, start = [], None, None
    for i, line in enumerate(lines):
        m = re.match(r"\s*\[([A-Za-z0-9_.\-]+)\]\s*(#.*)?$", line)
        if m:
            if cur is not None:
                out.append((cur, start, i))
            cur, start = m.group(1), i
    if cur is not None:
        out.append((cur, start, len(lines)))
    return out
changed = []
for section, key, value in wanted:
    found = {name: (s, e) for name, s, e in sections(lines)}
    if section in found:
        s, e = found[section]
        if any(re.match(rf"\s*{key}\s*=", l) for l in lines[s + 1:e]):
            continue
        # after the section's last non-blank line
        at = e
        while at > s + 1 and not lines[at - 1].strip():
            at -= 1
        lines.insert(at, f"{key} = {value}")
    else:
        lines += ([""] if lines and lines[-1].strip() else []) + [f"[{section}]", f"{key} = {value}"]
    changed.append(f"[{section}] {key} = {value}")
if changed:
    open(path, "w").write("\n".join(lines) + "\n")
print("containers.conf:", "added " + "; ".join(changed) if changed else "nothing to add")
EOF

rt=$(podman info --format '{{.Host.OCIRuntime.Name}}')
[ "$rt" = runc ] || echo "warning: containers.conf names runtime $rt; on this kernel's hybrid cgroups use runc" >&2
podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}} cgroups {{.Host.CgroupsVersion}} events {{.Host.EventLogger}} storage {{.Store.GraphDriverName}}'
