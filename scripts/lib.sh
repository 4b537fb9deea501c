# Shared set-up steps for scripts/run, scripts/test and scripts/bench.
# Each step checks first and installs only what is missing, so a second run is fast.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_LEPTOS_VERSION="0.3.8"
export PATH="$HOME/.cargo/bin:$ROOT/end2end/node_modules/.bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "Installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_rust() {
  command -v cargo >/dev/null || { echo "Rust is required: install it with rustup (https://rustup.rs)" >&2; exit 1; }
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "Adding the wasm32 target"
    rustup target add wasm32-unknown-unknown
  fi
}

ensure_cargo_leptos() {
  if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    say "Installing cargo-leptos $CARGO_LEPTOS_VERSION (about 15 minutes, once)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
  fi
  # cargo-leptos must use this wasm-bindgen, of the exact version in Cargo.lock.
  local want
  want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$ROOT/Cargo.lock")"
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $want\$"; then
    say "Installing wasm-bindgen-cli $want"
    cargo install wasm-bindgen-cli --version "$want" --force
  fi
}

ensure_node_packages() {
  command -v npm >/dev/null || apt_install nodejs npm
  local stamp="$ROOT/end2end/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$ROOT/end2end/package-lock.json" -nt "$stamp" ]; then
    say "Installing Node packages (Playwright, maildev, binaryen)"
    (cd "$ROOT/end2end" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# schemathesis (PyPI) in a virtual environment under the ignored .tools/, every package
# pinned by scripts/contract-requirements.txt; reinstalled when that file changes.
ensure_schemathesis() {
  apt_install python3 python3-venv
  local venv="$ROOT/.tools/contract-venv"
  local stamp="$venv/.requirements"
  if [ ! -x "$venv/bin/st" ] || ! cmp -s "$ROOT/scripts/contract-requirements.txt" "$stamp"; then
    say "Installing schemathesis"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/scripts/contract-requirements.txt"
    cp "$ROOT/scripts/contract-requirements.txt" "$stamp"
  fi
  SCHEMATHESIS="$venv/bin/st"
}

ensure_chromium() {
  [ -x /usr/bin/chromium ] || apt_install chromium
}

# Debian's nginx (with auth_request), for the gateway tests; nothing is started as a service.
ensure_nginx() {
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_install nginx-light
}

# Writes to folder $1 an nginx configuration that runs deploy/nginx/roster-gateway.conf as
# published, with Roster on port $2, the API on port $3 and nginx on port $4, as this user.
gateway_config() {
  local dir="$1" roster="$2" api="$3" listen="$4" user=""
  sed -e "s/127.0.0.1:3000/127.0.0.1:$roster/" -e "s/127.0.0.1:9000/127.0.0.1:$api/" \
    -e "s/listen 8080;/listen 127.0.0.1:$listen;/" "$ROOT/deploy/nginx/roster-gateway.conf" >"$dir/site.conf"
  [ "$(id -u)" = 0 ] && user="user root;"
  cat >"$dir/nginx.conf" <<CONF
$user
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  include $dir/site.conf;
}
CONF
}

# A throwaway PostgreSQL cluster on a free loopback port; sets TEST_POSTGRES_URL and PG_DIR.
start_postgres() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$bin" ]; then
    apt_install postgresql
    bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  fi
  PG_DIR="$(mktemp -d /tmp/roster-pg.XXXXXX)"
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  local run=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$PG_DIR"
    run=(su postgres -s /bin/sh -c)
  else
    run=(sh -c)
  fi
  "${run[@]}" "'$bin/initdb' -D '$PG_DIR/data' -U postgres -A trust --no-sync --encoding=UTF8 --locale=C.UTF-8 >/dev/null"
  "${run[@]}" "'$bin/pg_ctl' -D '$PG_DIR/data' -l '$PG_DIR/log' -w -o \"-c listen_addresses=127.0.0.1 -p $port -k '$PG_DIR' -c fsync=off -c max_connections=300\" start >/dev/null"
  export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
  say "PostgreSQL running on 127.0.0.1:$port"
}

stop_postgres() {
  if [ -n "${PG_DIR:-}" ]; then
    local bin
    bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    if [ "$(id -u)" = 0 ]; then
      su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$PG_DIR/data' -m immediate stop" >/dev/null 2>&1 || true
    else
      "$bin/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$PG_DIR"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Builds the release server and site (file names carrying a hash of their content, brotli and
# gzip copies beside each asset) unless nothing they are built from changed since the last
# build, so a second start with no change serves within seconds.
build_release() {
  local stamp=target/release/.roster-built
  if [ -f "$stamp" ] && [ -x target/release/roster ] && site_matches target/release/hash.txt &&
    [ -z "$(find app frontend server style migrations Cargo.toml Cargo.lock -newer "$stamp" -print -quit)" ]; then
    say "Nothing changed since the last build"
    return
  fi
  mkdir -p target/release
  local started="$stamp.new"
  touch "$started"
  clean_site
  LEPTOS_HASH_FILES=true cargo leptos build --release --precompress
  mv "$started" "$stamp"
}

# Whether target/site holds the assets the hash file $1 names (a debug build replaces them).
site_matches() {
  local kind hash
  [ -f "$1" ] || return 1
  for kind in js wasm css; do
    hash="$(sed -n "s/^$kind: //p" "$1")"
    [ -n "$hash" ] && [ -f "target/site/pkg/roster.$hash.$kind" ] || return 1
  done
}

# cargo-leptos hashes every file it finds in target/site/pkg, earlier builds' included: each
# build starts from an empty folder.
clean_site() {
  rm -rf target/site/pkg
}
