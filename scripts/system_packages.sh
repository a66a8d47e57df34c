#!/usr/bin/env bash
# The Debian packages the test suite needs (browser, PostGIS and nginx tests are never skipped), installed
# when missing. Used by `make test` and `.ci/run`, so a fresh machine needs no step of its own.
set -euo pipefail

packages=(chromium chromium-driver postgresql postgresql-15-postgis-3 fonts-dejavu-core nginx)
need=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "The tests need these Debian packages: ${need[*]}" >&2
  echo "Install them as root: apt-get install --no-install-recommends ${need[*]}" >&2
  exit 1
fi
echo "installing Debian packages the tests need: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${need[@]}"
