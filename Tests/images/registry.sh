#!/usr/bin/env bash
# Local registries for the image store tests and the pull benchmark, on 127.0.0.1 only.
#   registry.sh start STATE [--token USER:PASSWORD]
#       Debian's docker-registry on a free port with its config and storage under STATE;
#       with --token, token auth through Tests/images/token-server.py (RS256 JWTs, a
#       self-signed certificate made here). Prints the port once /v2/ answers.
#   registry.sh fake STATE LAYOUT   Tests/images/fake-registry.py serving LAYOUT (the
#       misbehaving registry: tamper, 404, 401, 500, hang, drop, bearer...). Prints the port.
#   registry.sh push STATE SOURCE NAME[:TAG] [--creds USER:PASSWORD]
#       skopeo copy --all SOURCE (oci:DIR:TAG, oci-archive:F, ...) to the registry started in STATE.
#   registry.sh stop STATE          stops what STATE's pid files name, and only that.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command=${1:?usage: registry.sh start|fake|push|stop STATE ...}
state=${2:?usage: registry.sh $command STATE ...}
shift 2
mkdir -p "$state"
state=$(cd "$state" && pwd)

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits (bounded) for FILE to appear, or for URL to answer.
wait_for_file() {
  for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done
  echo "registry.sh: $1 did not appear" >&2; return 1
}
wait_for_url() {
  for _ in $(seq 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true)
    [ "$code" = 200 ] || [ "$code" = 401 ] && return 0
    sleep 0.1
  done
  echo "registry.sh: $1 did not answer" >&2; return 1
}

case "$command" in
  start)
    command -v docker-registry >/dev/null || { echo "registry.sh: docker-registry is missing (Scripts/bootstrap)" >&2; exit 3; }
    token=""
    [ "${1:-}" = --token ] && token=${2:?--token USER:PASSWORD}
    port=$(free_port)
    mkdir -p "$state/storage"
    auth=""
    if [ -n "$token" ]; then
      openssl req -x509 -newkey rsa:2048 -nodes -keyout "$state/token.key" -out "$state/token.crt" -days 2 \
        -subj /CN=runxl-test-token 2>/dev/null
      rm -f "$state/token-port"
      python3 "$here/token-server.py" --port-file "$state/token-port" --key "$state/token.key" --cert "$state/token.crt" \
        --issuer runxl-test --service runxl-registry --user "${token%%:*}" --password "${token#*:}" \
        >"$state/token.log" 2>&1 &
      echo $! >"$state/token.pid"
      wait_for_file "$state/token-port"
      auth="auth:
  token:
    realm: http://127.0.0.1:$(cat "$state/token-port")/token
    service: runxl-registry
    issuer: runxl-test
    rootcertbundle: $state/token.crt"
    fi
    cat >"$state/config.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $state/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: runxl-test-secret
$auth
YAML
    docker-registry serve "$state/config.yml" >"$state/registry.log" 2>&1 &
    echo $! >"$state/registry.pid"
    echo "$port" >"$state/port"
    wait_for_url "http://127.0.0.1:$port/v2/"
    echo "$port"
    ;;
  fake)
    layout=${1:?usage: registry.sh fake STATE LAYOUT}
    rm -f "$state/fake-port"
    python3 "$here/fake-registry.py" --layout "$layout" --port-file "$state/fake-port" >"$state/fake.log" 2>&1 &
    echo $! >"$state/fake.pid"
    wait_for_file "$state/fake-port"
    cat "$state/fake-port"
    ;;
  push)
    source=${1:?usage: registry.sh push STATE SOURCE NAME}
    name=${2:?usage: registry.sh push STATE SOURCE NAME}
    creds=()
    [ "${3:-}" = --creds ] && creds=(--dest-creds "${4:?--creds USER:PASSWORD}")
    timeout 120 skopeo copy --quiet --all --dest-tls-verify=false "${creds[@]}" "$source" "docker://127.0.0.1:$(cat "$state/port")/$name"
    ;;
  stop)
    for pidfile in "$state"/registry.pid "$state"/token.pid "$state"/fake.pid; do
      [ -f "$pidfile" ] || continue
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$pidfile"
    done
    ;;
  *)
    echo "usage: registry.sh start|fake|push|stop STATE ..." >&2
    exit 2
    ;;
esac
