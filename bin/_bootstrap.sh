# Sourced by bin/run and bin/test: installs what the project needs on a fresh machine.
# Debian packages (redis-server, chromium, postgresql, python3-venv, nodejs/npm) through apt-get when missing,
# a virtual environment in .venv with requirements/dev.txt, and the npm stand-ins from package.json.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"

as_root() {
    if [ "$(id -u)" = "0" ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "need root (or sudo) to run: $*" >&2; return 1; fi
}

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
python3 -c "import venv, ensurepip" 2>/dev/null || missing+=(python3-venv)
if [ -f package.json ]; then command -v npm >/dev/null || missing+=(nodejs npm); fi
if [ "${#missing[@]}" -gt 0 ]; then
    echo "== installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$PY" ]; then
    echo "== creating the virtual environment in .venv"
    python3 -m venv .venv
fi
stamp="$(cat requirements/*.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ "$(cat .venv/.requirements.stamp 2>/dev/null || true)" != "$stamp" ]; then
    echo "== installing Python packages (requirements/dev.txt)"
    "$PY" -m pip install -q --disable-pip-version-check -r requirements/dev.txt 2>&1 \
        | { grep -v "^WARNING: Location" || true; }
    echo "$stamp" > .venv/.requirements.stamp
fi

if [ -f package.json ]; then
    npm_stamp="$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)"
    if [ "$(cat node_modules/.project.stamp 2>/dev/null || true)" != "$npm_stamp" ]; then
        echo "== installing npm packages (package.json)"
        npm ci --no-audit --no-fund --loglevel=error
        echo "$npm_stamp" > node_modules/.project.stamp
    fi
fi
