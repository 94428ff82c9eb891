#!/usr/bin/env bash
# Install what the command center needs on Debian/Ubuntu, then the Python environment.
# Idempotent: a second run installs nothing and takes a second or two.
#   - system packages via apt when we are root (or have password-less sudo); otherwise print
#     exactly what to install and stop;
#   - a virtualenv in .venv with the project installed in editable mode.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO="none"; fi
fi

pg_major() {
  ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sed -E 's#.*/postgresql/([0-9]+)/bin.*#\1#' | sort -n | tail -n 1
}

missing=()
[ -n "$(pg_major)" ] || missing+=(postgresql)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)

apt_install() {
  if [ "$SUDO" = "none" ]; then
    echo "缺少系统软件包 / missing system packages: $*" >&2
    echo "请运行 / please run:  sudo apt-get update && sudo apt-get install -y $*" >&2
    exit 1
  fi
  say "apt-get install $*"
  export DEBIAN_FRONTEND=noninteractive
  if [ ! -f /tmp/.cc-apt-updated ]; then $SUDO apt-get update -qq && touch /tmp/.cc-apt-updated; fi
  $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi

# PostGIS must match the server's major version, so it is resolved after PostgreSQL is in.
major=$(pg_major)
extra=()
[ -f "/usr/share/postgresql/${major}/extension/postgis.control" ] || extra+=("postgresql-${major}-postgis-3")
# Fonts for Chinese text (camera overlays, reports, screenshots); GStreamer's RTSP server, an
# H.264 encoder and the system Python bindings for the camera simulator; Leaflet to inline into
# report exports that open offline; wrk, the load generator of benchmarks/intake.py.
for pkg in libjs-leaflet wrk fonts-noto-cjk fonts-noto-mono python3-gi python3-numpy gir1.2-gst-rtsp-server-1.0 \
           gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly \
           gstreamer1.0-x gstreamer1.0-tools chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || extra+=("$pkg")
done
if [ ${#extra[@]} -gt 0 ]; then apt_install "${extra[@]}"; fi

# The Python environment. Reinstall only when pyproject.toml changed.
if [ ! -x .venv/bin/python ]; then
  say "python3 -m venv .venv"
  python3 -m venv .venv
fi
stamp=.venv/.cc-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "pip install -e '.[dev]'"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e '.[dev]' 2> >(grep -vE 'is ignored|^\s*$' >&2 || true)
  echo "$want" > "$stamp"
fi
say "环境就绪 / environment ready"
