#!/usr/bin/env bash
# System libraries the project needs beyond Python packages. HarfBuzz-Subset is what WeasyPrint
# subsets the embedded fonts with; without it WeasyPrint falls back to fontTools, whose output
# differs (and differs between renders), so the same data would give different PDF bytes on
# different machines. Installed here, checked again by the renderer.
set -euo pipefail
missing=()
ldconfig -p | grep -q 'libharfbuzz-subset\.so\.0' || missing+=(libharfbuzz-subset0)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing system packages: ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "missing system packages: ${missing[*]}; install them with your package manager" \
  "(Debian/Ubuntu: sudo apt-get install ${missing[*]})" >&2
exit 1
