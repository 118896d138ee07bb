#!/usr/bin/env bash
# Installs what the image tests need and, with `start`, runs a throwaway registry on loopback
# with the fixture images pushed: scripts/registry.sh [install|start [PORT]]
set -euo pipefail
cmd=${1:-install}
need() { command -v docker-registry >/dev/null && command -v skopeo >/dev/null && command -v umoci >/dev/null && command -v htpasswd >/dev/null; }
if ! need; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry skopeo umoci apache2-utils >/dev/null
fi
[ "$cmd" = install ] && exit 0
port=${2:-5000}
dir=$(mktemp -d /tmp/palisade-registry-XXXXXX)
cat >"$dir/config.yml" <<YAML
version: 0.1
log: { level: error, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: $dir/storage } }
http: { addr: 127.0.0.1:$port }
YAML
docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
fixtures=${PALISADE_FIXTURES:-$(dirname "$0")/../../shared/fixtures}
for tag in minbase app; do
  skopeo copy --quiet --dest-tls-verify=false "oci:$fixtures/images/debian12:$tag" "docker://127.0.0.1:$port/demo/$tag:1"
done
echo "registry pid $pid on 127.0.0.1:$port (storage and log in $dir); images demo/minbase:1 demo/app:1; stop with: kill $pid"
