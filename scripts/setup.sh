#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build, run and test canh.
# Idempotent: packages already present are not touched, apt is not called at all then.
set -euo pipefail

# libhyperscan-dev: the rule engine's SIMD matcher (system libhs).
# rsyslog, rsyslog-gnutls, bsdutils (logger), openssl: real syslog clients for end-to-end tests.
# softflowd (NetFlow exporter) and nfdump (independent decoder): NetFlow end-to-end tests.
# tmux: the console's end-to-end test types into `canh tui` and reads its screen.
# poppler-utils (pdftotext): the report tests read the monthly PDF back as text.
# pkg-config, clang: -sys crates. ca-certificates: cargo over https.
PKGS=(build-essential pkg-config ca-certificates bsdutils openssl
      libhyperscan-dev rsyslog rsyslog-gnutls socat softflowd nfdump tmux
      poppler-utils)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust (https://rustup.rs) and run again" >&2
  exit 1
fi
echo "setup: ok"
