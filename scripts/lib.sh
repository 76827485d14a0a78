# Shared set-up for scripts/demo and scripts/test (sourced, not run): find Python >= 3.12, make the venv,
# install the Node test apps from the committed lock file. Everything is idempotent and quick when done.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
APPS="$ROOT/tests/apps"

say() { printf '%s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }

# A Python new enough for mitmproxy 12 (>= 3.12). Order: $OFFLOAD_PYTHON, python3.13/3.12/python3 on PATH,
# then pyenv's installed versions (plain python3 is 3.11 on these machines; pyenv has 3.12 and 3.13).
python_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
find_python() {
  local c v
  for c in "${OFFLOAD_PYTHON:-}" python3.13 python3.12 python3; do
    [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && python_ok "$c" && { command -v "$c"; return 0; }
  done
  if command -v pyenv >/dev/null 2>&1; then
    for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[2-9]|[2-9][0-9])(\.[0-9]+)?$' | sort -t. -k2,2nr -k3,3nr); do
      c="$(pyenv prefix "$v" 2>/dev/null)/bin/python3"
      python_ok "$c" && { echo "$c"; return 0; }
    done
  fi
  die "offload needs Python >= 3.12 (mitmproxy 12), and none was found.
  Tried: \$OFFLOAD_PYTHON, python3.13, python3.12, python3 ($(python3 --version 2>&1 || echo missing)) and pyenv's versions.
  Install one (e.g. 'pyenv install 3.12') or point OFFLOAD_PYTHON at it."
}

# The project's venv with the given extras installed ("" or "test"); reinstalled when pyproject.toml changes.
ensure_venv() {
  local extras="${1:-}" spec="." stamp sum
  [ -n "$extras" ] && spec=".[$extras]"
  sum=$(cksum < "$ROOT/pyproject.toml" | cut -d' ' -f1)
  stamp="$VENV/.offload-$sum-${extras:-base}"
  if [ -x "$VENV/bin/python" ] && python_ok "$VENV/bin/python"; then
    # The test extras include everything the base install has.
    [ -f "$stamp" ] || { [ -z "$extras" ] && [ -f "$VENV/.offload-$sum-test" ]; } && return 0
  fi
  if ! { [ -x "$VENV/bin/python" ] && python_ok "$VENV/bin/python"; }; then
    local py; py=$(find_python) || exit 2
    say "setting up $VENV with $("$py" --version 2>&1)"
    rm -rf "$VENV"
    "$py" -m venv "$VENV" || die "could not create a venv with $py"
  fi
  say "installing offload ($spec) and mitmproxy into .venv"
  local log="$VENV/pip-install.log"
  if ! (cd "$ROOT" && "$VENV/bin/python" -m pip install --disable-pip-version-check -e "$spec") >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "pip install -e '$spec' failed (full log: $log)"
  fi
  find "$VENV" -maxdepth 1 -name ".offload-*" ! -name ".offload-$sum-*" -delete; touch "$stamp"
}

# The oldest supported pair, Python 3.11 and mitmproxy 11.0.0: scripts/test's second, quick leg runs the unit tests
# and one end-to-end reproduction of the seed bug in .venv-oldest.
OLDEST_MITMPROXY="11.0.0"
OLDEST_VENV="$ROOT/.venv-oldest"
find_oldest_python() {
  local c v
  for c in python3.11 python3; do
    command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null \
      && { command -v "$c"; return 0; }
  done
  if command -v pyenv >/dev/null 2>&1; then
    for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.11(\.[0-9]+)?$' | sort -t. -k3,3nr); do
      c="$(pyenv prefix "$v" 2>/dev/null)/bin/python3"
      [ -x "$c" ] && { echo "$c"; return 0; }
    done
  fi
  return 1
}

ensure_oldest_venv() {
  local py stamp sum
  sum=$(cksum < "$ROOT/pyproject.toml" | cut -d' ' -f1)
  stamp="$OLDEST_VENV/.offload-$sum-$OLDEST_MITMPROXY"
  [ -f "$stamp" ] && return 0
  py=$(find_oldest_python) || return 1
  say "setting up $OLDEST_VENV with $("$py" --version 2>&1) and mitmproxy $OLDEST_MITMPROXY (the oldest supported pair)"
  rm -rf "$OLDEST_VENV"
  "$py" -m venv "$OLDEST_VENV" || die "could not create a venv with $py"
  local log="$OLDEST_VENV/pip-install.log"
  if ! (cd "$ROOT" && "$OLDEST_VENV/bin/python" -m pip install --disable-pip-version-check -e . \
        "mitmproxy==$OLDEST_MITMPROXY" "pytest>=8" "pytest-asyncio>=0.23" "hypothesis>=6" "jsonschema>=4.0") \
        >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "installing offload with mitmproxy $OLDEST_MITMPROXY failed (full log: $log)"
  fi
  touch "$stamp"
}

# node_modules for the bundled apps, exactly as locked in each folder's package-lock.json: tests/apps (Express, Koa),
# tests/apps/more (Fastify, hapi, NestJS, passport), and any other folder of tests/apps with a lock file of its own
# (a build step runs where its package.json has one: Next.js, SvelteKit).
ensure_node_apps() {
  command -v node >/dev/null 2>&1 || die "Node.js is needed for the bundled apps (node 20 or newer) and was not found"
  command -v npm >/dev/null 2>&1 || die "npm is needed to install the bundled apps and was not found"
  local dir
  for dir in "$APPS" "$APPS"/*/; do
    dir=${dir%/}
    [ -f "$dir/package-lock.json" ] || continue
    ensure_node_folder "$dir"
  done
}

ensure_node_folder() {
  local dir=$1 stamp
  # The lock file and the app's own sources (a change to them means a new build).
  stamp="$dir/node_modules/.offload-$(find "$dir" \( -name node_modules -o -name build -o -name .next -o -name .svelte-kit \) \
    -prune -o -type f -print | LC_ALL=C sort | xargs cat | cksum | cut -d' ' -f1)"
  [ -f "$stamp" ] && return 0
  say "installing the bundled Node apps (npm ci in ${dir#"$ROOT"/})"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci in ${dir#"$ROOT"/} failed"
  if grep -q '"build"' "$dir/package.json"; then
    say "building ${dir#"$ROOT"/} (npm run build)"
    (cd "$dir" && npm run build --silent >&2) || die "npm run build in ${dir#"$ROOT"/} failed"
  fi
  find "$dir/node_modules" -maxdepth 1 -name ".offload-*" -delete; touch "$stamp"
}
