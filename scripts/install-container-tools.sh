#!/usr/bin/env bash
# podman, runc and mmdebstrap for `servespec rehearse` (Debian packages, as root; CI is a fresh
# machine). Does nothing when they are already installed; `apt-get update` runs once per boot.
set -euo pipefail
missing=()
for tool in podman runc mmdebstrap; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "== not installing ${missing[*]}: needs root and apt-get (rehearse will say it cannot run)"
  exit 0
fi
stamp=/run/servespec-apt-updated
if [ ! -e "$stamp" ]; then
  echo "== apt-get update"
  apt-get update -qq
  touch "$stamp"
fi
echo "== installing podman runc mmdebstrap (for servespec rehearse)"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc mmdebstrap >/dev/null
