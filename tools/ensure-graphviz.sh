#!/usr/bin/env bash
# Install Debian's `graphviz` (the `dot` layout engine that draws the docs site's lineage SVG) when it
# is missing. Idempotent and quiet: does nothing when `dot` is on the PATH. Needs root (or sudo) and apt.
set -euo pipefail

if command -v dot >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-graphviz: apt-get is not available; install Graphviz (https://graphviz.org/download/) so that \`dot\` is on the PATH" >&2
  exit 1
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "ensure-graphviz: not root and no sudo; run: apt-get install graphviz" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends graphviz; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "ensure-graphviz: apt-get could not install graphviz" >&2
  exit 1
fi
echo "ensure-graphviz: installed $(dot -V 2>&1)"
