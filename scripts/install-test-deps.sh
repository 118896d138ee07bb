#!/usr/bin/env bash
# Installs what the test suite needs and a clean machine lacks: Debian packages for the real
# parts (registry, image tools, containers, version oracles, browser) and the npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package
declare -A NEEDED=(
  [docker-registry]=docker-registry
  [skopeo]=skopeo
  [umoci]=umoci
  [runc]=runc
  [bpftrace]=bpftrace
  [rpm]=rpm
  [dpkg]=dpkg
  [chromium]=chromium
  [htpasswd]=apache2-utils
  [openssl]=openssl
  [objcopy]=binutils
  [zip]=zip
  [unzip]=unzip
  [zstd]=zstd
)
missing=()
for cmd in "${!NEEDED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEEDED[$cmd]}")
done
# python3's packaging module: the PyPI version oracle (src/vulndb/versions/live-oracles.test.ts)
python3 -c 'import packaging.version' >/dev/null 2>&1 || missing+=(python3-packaging)
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "warning: not root, cannot install ${missing[*]}; tests that need them will fail in CI or skip locally" >&2
  fi
fi

# npm dependencies, exactly as locked, when absent or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
