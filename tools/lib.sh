# Shared by tools/demo and tools/test: install what is missing from Debian's
# packages, and start a private MariaDB server in a scratch folder.

need_packages() {
  # need_packages COMMAND:PACKAGE ... installs the packages whose command is missing.
  local missing=()
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (Debian packages)..." >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

need_mariadb() {
  need_packages mariadbd:mariadb-server mariadb:mariadb-client openssl:openssl
  # mariadbd lives in /usr/sbin, which a non-login shell may not have.
  export PATH="$PATH:/usr/sbin"
}

# start_mariadb DIR PORT: a fresh server with its data in DIR, listening on
# 127.0.0.1:PORT and on DIR/sock. Its pid goes to DIR/pid.
start_mariadb() {
  local dir="$1" port="$2"
  rm -rf "$dir"
  mkdir -p "$dir"
  mariadb-install-db --no-defaults --datadir="$dir/data" --user="$(id -un)" \
    --auth-root-authentication-method=normal >"$dir/install.log" 2>&1 \
    || { cat "$dir/install.log" >&2; return 1; }
  mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/sock" --port="$port" \
    --bind-address=127.0.0.1 --user="$(id -un)" --skip-log-bin \
    --pid-file="$dir/mariadbd.pid" >"$dir/server.log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 1 100); do
    if mariadb --no-defaults --default-character-set=utf8mb4 --socket="$dir/sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  echo "MariaDB did not start; its log:" >&2
  cat "$dir/server.log" >&2
  return 1
}

# The reference implementations that re-verify the committed hash vectors.
need_hash_references() {
  need_packages php:php-cli
  if ! /usr/bin/python3 -c 'import passlib' >/dev/null 2>&1; then
    need_packages __none__:python3-passlib
  fi
}

# What the deployment tests run: Debian's HAProxy, and python3-yaml for the
# Kubernetes manifests' check.
need_deploy_tools() {
  need_packages haproxy:haproxy
  if ! /usr/bin/python3 -c 'import yaml' >/dev/null 2>&1; then
    need_packages __none__:python3-yaml
  fi
}

stop_mariadb() {
  local dir="$1"
  [ -f "$dir/pid" ] && kill "$(cat "$dir/pid")" 2>/dev/null
  wait 2>/dev/null || true
}
