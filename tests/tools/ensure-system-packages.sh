#!/usr/bin/env bash
# Install the Debian packages named in bindep.txt that are not installed yet.
# When nothing is missing this costs one dpkg-query per package and never
# touches apt, so `make test` stays fast and works offline.
set -euo pipefail

bindep_file=${1:-bindep.txt}
mapfile -t wanted < <(awk '!/^[[:space:]]*(#|$)/ { print $1 }' "$bindep_file")

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "Not a Debian system: make sure these are installed: ${wanted[*]}" >&2
    exit 0
fi

missing=()
for package in "${wanted[@]}"; do
    # shellcheck disable=SC2016  # ${Status} is a dpkg-query field, not a shell variable
    if ! dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q ' installed$'; then
        missing+=("$package")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

echo "Installing missing system packages: ${missing[*]}"
as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "Not root and no sudo: install these packages, then run again: ${missing[*]}" >&2
        exit 1
    fi
    as_root=(sudo)
fi
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
