#!/usr/bin/env bash
# Installs the host's non-npm needs (local-requirements.txt) from Debian's packages when missing,
# and registers the project's own tslab as the Jupyter TypeScript kernel.
#   --with-browser   also install what the tests need: Chromium (UI tests) and docker-compose (compose file check)
# Needs root or passwordless sudo to install; otherwise prints exactly what to install and exits 2.
set -uo pipefail
cd "$(dirname "$0")/.."

with_browser=0
for arg in "$@"; do
  case "$arg" in
    --with-browser) with_browser=1 ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "setup-system: unknown option '$arg' (try --help)" >&2; exit 64 ;;
  esac
done

# Debian package names come from local-requirements.txt (comments and blank lines ignored).
mapfile -t wanted < <(grep -v '^\s*#' local-requirements.txt | awk 'NF{print $1}')
# The tests also drive Chromium and check docker-compose.yml (no Docker engine needed for `config`).
[ "$with_browser" = 1 ] && wanted+=(chromium docker-compose)

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  echo "setup-system: not a Debian/Ubuntu host; install Jupyter Notebook 6+, nbconvert and jupyter_client for" >&2
  echo "setup-system: /usr/bin/python3 yourself (Debian names: ${wanted[*]}), then rerun this script" >&2
  exit 2
fi

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else
    echo "setup-system: missing Debian packages: ${missing[*]}" >&2
    echo "setup-system: install them with:  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 2
  fi
  echo "setup-system: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { echo "setup-system: apt-get install failed for: ${missing[*]}" >&2; exit 1; }
fi

# Debian's Jupyter must be importable by the interpreter the notebook scripts use.
if ! /usr/bin/python3 -c 'import notebook, nbconvert, jupyter_client' 2>/dev/null; then
  echo "setup-system: /usr/bin/python3 cannot import notebook, nbconvert and jupyter_client although ${wanted[*]} are installed;" >&2
  echo "setup-system: reinstall them: sudo apt-get install --reinstall -y ${wanted[*]}" >&2
  exit 1
fi

# Register the project's tslab (not a global one) with Debian's Jupyter, which lives under /usr/bin/python3.
# (npm run notebook and notebook:run also pass this tslab to Jupyter themselves; the registration makes a
# plain `jupyter notebook` offer the same kernel.)
tslab_bin="$PWD/node_modules/.bin/tslab"
if [ ! -x "$tslab_bin" ]; then
  echo "setup-system: $tslab_bin not found; run npm ci first" >&2
  exit 1
fi
if out=$("$tslab_bin" install --python=/usr/bin/python3 --binary="$tslab_bin" 2>&1); then
  echo "setup-system: tslab kernel registered ($tslab_bin)"
else
  echo "setup-system: could not register the tslab kernel:" >&2
  echo "$out" >&2
  exit 1
fi
exit 0
