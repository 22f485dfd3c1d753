#!/usr/bin/env bash
# Install what guestvault needs on a fresh Debian 12 machine with Node.js 20, then build it.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
# qemu-utils (qemu-nbd, qemu-img, qemu-io) and qemu-system-x86: the NBD, QMP and guest-agent tests drive real QEMU.
# zstd, gzip, pigz and lzop: vzdump archive compression (a separate process, as vzdump runs them).
for pkg in tar coreutils findutils diffutils util-linux mount python3 make g++ qemu-utils qemu-system-x86 e2fsprogs zstd gzip pigz lzop openssl; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
npm ci --no-audit --no-fund
npm run build
