#!/bin/bash
# The base of every image of ours: Debian bookworm (minbase) with Python 3.11 and the CA
# bundle, made here with debootstrap from the mirror this machine's apt uses (read from its
# sources now, never written into the project or the image), patched from bookworm-updates
# and bookworm-security, slimmed, and imported into podman.
#
#   ./make-base.sh                 skips when the image exists (FORCE=1 remakes it)
#   BASE_IMAGE=localhost/x:y ./make-base.sh
#
# The image keeps no apt sources: a build that installs Debian packages mounts the machine's
# at build time (build-services.sh). Later apt installs stay lean too: dpkg leaves out docs,
# man pages and locales, apt keeps no .debs, lists are removed in the same layer.
set -euo pipefail
source "$(dirname "$0")/common.sh"
IMAGE=$BASE_IMAGE
SUITE=bookworm

if [ -z "${FORCE:-}" ] && podman image exists "$IMAGE"; then
  echo "$IMAGE exists: nothing to do (FORCE=1 to remake it)"
  exit 0
fi

MIRROR=$("$HERE/apt-sources.py" mirror "$SUITE")
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/poljuice-base.XXXXXX")
CHROOT=$WORK/root
cleanup() {
  for m in proc dev/pts dev sys; do mountpoint -q "$CHROOT/$m" 2>/dev/null && umount -l "$CHROOT/$m"; done
  rm -rf "$WORK"
}
trap cleanup EXIT
start=$(date +%s)
echo "debootstrap $SUITE from $MIRROR"
nice -n 10 debootstrap --variant=minbase --include=python3.11,python3,ca-certificates \
  "$SUITE" "$CHROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
  || { tail -20 "$WORK/debootstrap.log"; exit 1; }
echo "debootstrap: $(( $(date +%s) - start )) s"

# Lean from here on: what dpkg and apt do in every later layer too.
cat >"$CHROOT/etc/dpkg/dpkg.cfg.d/01-lean" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
cat >"$CHROOT/etc/apt/apt.conf.d/01-lean" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF

# No package starts its service while an image builds (as in Docker's Debian images).
printf '#!/bin/sh\n# no service starts when a package is installed in an image build\nexit 101\n' \
  >"$CHROOT/usr/sbin/policy-rc.d"
chmod 755 "$CHROOT/usr/sbin/policy-rc.d"

# Patched: the point release debootstrap fetched plus bookworm-updates and -security, with
# this machine's sources for the duration only.
rm -f "$CHROOT/etc/apt/sources.list"
"$HERE/apt-sources.py" list "$CHROOT/etc/apt/sources.list.d" "$SUITE" >/dev/null
cp /etc/resolv.conf "$CHROOT/etc/resolv.conf"
mount -t proc proc "$CHROOT/proc"
chroot "$CHROOT" /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
  apt-get update -qq && apt-get -qq -y upgrade && apt-get clean' >"$WORK/upgrade.log" 2>&1 \
  || { tail -20 "$WORK/upgrade.log"; exit 1; }
umount "$CHROOT/proc"
echo "upgraded: $(grep -c '^Unpacking' "$WORK/upgrade.log" || true) packages"

# Slim: what the image never needs at run time.
rm -rf "$CHROOT"/etc/apt/sources.list.d/* "$CHROOT"/var/lib/apt/lists/* "$CHROOT"/var/cache/apt/* \
  "$CHROOT"/var/cache/debconf/*-old "$CHROOT"/var/lib/dpkg/*-old "$CHROOT"/var/log/* \
  "$CHROOT"/usr/share/man/* "$CHROOT"/usr/share/info/* "$CHROOT"/usr/share/lintian \
  "$CHROOT"/usr/share/groff "$CHROOT"/tmp/* "$CHROOT"/var/tmp/* "$CHROOT"/root/.cache
find "$CHROOT/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$CHROOT/usr/share/doc" -mindepth 1 -type d -empty -delete
find "$CHROOT/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
# podman mounts its own; machine-specific files out of the image
: >"$CHROOT/etc/resolv.conf"
: >"$CHROOT/etc/hostname"
rm -f "$CHROOT/etc/machine-id" "$CHROOT/var/lib/dbus/machine-id"
echo "root filesystem: $(du -sm "$CHROOT" | cut -f1) MB"

tar --numeric-owner --xattrs -C "$CHROOT" -c . | podman import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' \
  --change "LABEL org.opencontainers.image.description=\"Debian $SUITE minbase, python3.11, ca-certificates; made by deployments/containers/make-base.sh\"" \
  --message "debootstrap --variant=minbase $SUITE" \
  - "$IMAGE" >/dev/null
echo "$IMAGE: $(( $(date +%s) - start )) s in all"
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$IMAGE"
