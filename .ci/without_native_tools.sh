#!/usr/bin/env bash
# usage: .ci/without_native_tools.sh [--offline] COMMAND...
#
# Runs COMMAND as a machine with only Deno would: in a private mount
# namespace where gdal-bin (and libgdal, which the native GDAL engine loads),
# PostgreSQL (server binaries and PostGIS),
# Chromium, OpenStack Swift and memcached are hidden (each binary
# bind-mounted over by /dev/null, which cannot be executed; their library
# folders covered by empty tmpfs). With --offline it also gets its own
# network namespace with only loopback up, so nothing outside 127.0.0.0/8 is
# reachable. Needs root (unshare); the rest of the machine is untouched.
set -euo pipefail

offline=false
if [ "${1:-}" = "--offline" ]; then
  offline=true
  shift
fi
[ $# -gt 0 ] || { echo "usage: $0 [--offline] COMMAND..." >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "$0: needs root (unshare -m)" >&2; exit 2; }

hide='
set -euo pipefail
mount --make-rprivate /
for f in /usr/bin/ogr* /usr/bin/gdal* /usr/bin/gnm* /usr/bin/nearblack \
         /usr/lib/*-linux-gnu/libgdal.so* \
         /usr/bin/chromium /usr/bin/swift-* /usr/bin/memcached \
         /usr/bin/pg_ctlcluster /usr/bin/pg_createcluster; do
  [ -f "$f" ] && mount --bind /dev/null "$f"
done
for d in /usr/lib/postgresql /usr/share/postgresql /usr/lib/chromium \
         /usr/lib/python3/dist-packages/swift /usr/lib/python3/dist-packages/osgeo; do
  [ -d "$d" ] && mount -t tmpfs -o ro,size=1k tmpfs "$d"
done
if [ "$OFFLINE" = true ]; then ip link set lo up; fi
exec "$@"
'

flags=(-m)
$offline && flags+=(-n)
OFFLINE=$offline exec unshare "${flags[@]}" bash -c "$hide" hide "$@"
