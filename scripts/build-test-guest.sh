#!/usr/bin/env bash
# Build the tiny Linux test guest used by the guest-agent / fsfreeze tests, once, into a cache dir.
#
#   scripts/build-test-guest.sh            # builds if needed, prints the cache dir's path on stdout
#
# The guest is a Debian 6.1 kernel plus an initramfs holding busybox-static, qemu-ga (from Debian's
# qemu-guest-agent package) with the host's copies of its shared libraries, and the handful of kernel
# modules it needs (virtio-pci/blk/console, ext4, ACPI button + evdev). Its /init mounts /dev/vda (ext4)
# on /mnt/data, runs a writer loop that appends to /mnt/data/ticks.log every 200 ms (so a freeze is
# visible as a stall), handles ACPI power-button and qemu-ga shutdown requests, prints
# "GUESTVAULT-TEST-GUEST READY" on ttyS0 and then runs qemu-ga on the virtio-serial port
# org.qemu.guest_agent.0. See scripts/boot-test-guest.sh for how to boot it.
#
# Outputs, in ${GUESTVAULT_TEST_GUEST_DIR:-/var/cache/guestvault/test-guest}:
#   vmlinuz      the kernel (QEMU -kernel)
#   initrd.img   the gzip'ed newc initramfs (QEMU -initrd)
#   stamp        first line: RECIPE_VERSION below; then what it was built from (informational)
#
# Idempotent: if all three exist and the stamp's first line equals RECIPE_VERSION, it exits at once
# without touching the network. Bump RECIPE_VERSION whenever anything that ends up in the guest changes.
#
# Needs root on Debian 12 with access to Debian's archive. The kernel and qemu-guest-agent are only
# downloaded and unpacked (apt-get download + dpkg-deb -x), never installed on the host. Host packages
# it may install if missing: cpio, kmod (depmod), the runtime libraries qemu-ga links against, and
# xz-utils/zstd if the kernel ships compressed modules.
set -euo pipefail

# Bump this whenever the recipe (packages, modules, /init, helper scripts, layout) changes.
readonly RECIPE_VERSION='guestvault-test-guest 2'

CACHE_DIR="${GUESTVAULT_TEST_GUEST_DIR:-/var/cache/guestvault/test-guest}"
CACHE_DIR="${CACHE_DIR%/}"
readonly CACHE_DIR

# Kernel modules the guest needs, in load order. The build resolves each one's dependencies from the
# modules.dep that depmod generates, so a dependency added by a newer kernel is still loaded first;
# modules that are built into the kernel are skipped. crc32c_generic is listed explicitly because
# ext4/jbd2 get their crc32c through the crypto API (request_module), which can't work in a guest
# without modprobe. button + evdev give busybox acpid the ACPI power button on /dev/input/event*.
readonly MODULES=(virtio_pci_legacy_dev virtio_pci_modern_dev virtio_ring virtio virtio_pci virtio_blk
  virtio_console crc32c_generic crc16 mbcache jbd2 ext4 button evdev)

log() { echo "build-test-guest: $*" >&2; }
die() { log "error: $*"; exit 1; }

# True if $1 holds a complete build of this recipe version. The stamp is written last and the whole
# directory is renamed into place, so a stamp that matches implies the other two files are complete.
is_complete() {
  [[ -s "$1/vmlinuz" && -s "$1/initrd.img" && -f "$1/stamp" ]] || return 1
  local first
  IFS= read -r first <"$1/stamp" || return 1
  [[ "$first" == "$RECIPE_VERSION" ]]
}

# Fast path: nothing to do (no lock, no apt, no root needed).
if is_complete "$CACHE_DIR"; then
  echo "$CACHE_DIR"
  exit 0
fi

[[ $EUID -eq 0 ]] || die "must run as root (it may apt-get install host tools)"
start_seconds=$SECONDS

# Serialize concurrent builds (e.g. several test files starting at once): the lock file sits next to
# the cache dir, and after getting it we look again in case another process just finished the build.
parent_dir="$(dirname "$CACHE_DIR")"
mkdir -p "$parent_dir"
exec 9>"$CACHE_DIR.lock"
flock 9
if is_complete "$CACHE_DIR"; then
  echo "$CACHE_DIR"
  exit 0
fi

# Holding the lock, nobody else is building: leftovers of killed builds can go.
rm -rf "$CACHE_DIR".tmp.* "$CACHE_DIR".old.*

# scratch: downloads and the unpacked packages (the unpacked kernel is ~400 MB).
# stage: the output files; next to CACHE_DIR so the final rename stays on one file system and is
# atomic. Both are removed on any exit. Both are named CACHE_DIR.tmp.*, so what a SIGKILLed build
# leaves behind (never a stamped CACHE_DIR) is found and removed by the next build, just above.
scratch="$(mktemp -d "$CACHE_DIR.tmp.XXXXXX")"
stage="$(mktemp -d "$CACHE_DIR.tmp.XXXXXX")"
trap 'rm -rf "$scratch" "$stage"' EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------------------------------------------
# apt helpers. The package lists are refreshed at most once, and only when a lookup or download
# fails: on a machine with current lists the build doesn't pay for an update.
apt_updated=0
apt_update_once() {
  if ((apt_updated)); then return 1; fi
  apt_updated=1
  log "refreshing the package lists (apt-get update)"
  apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
}

# Install host packages that are missing (checked with dpkg -s). Never the kernel or qemu-guest-agent.
apt_install_missing() {
  local pkg missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  log "installing host packages: ${missing[*]}"
  local cmd=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq
    --no-install-recommends "${missing[@]}")
  # apt/dpkg progress goes to stderr: stdout carries only the cache dir's path.
  "${cmd[@]}" >&2 && return 0
  apt_update_once || return 1
  "${cmd[@]}" >&2
}

# The versioned kernel package that Debian's linux-image-amd64 meta package currently points to.
resolve_kernel_pkg() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n '/^ *Depends: \(linux-image-6\.1\.[^ ]*-amd64\)$/{s//\1/p;q}'
}

dl="$scratch/debs"
mkdir -p "$dl"
# apt-get download fetches as the unprivileged _apt user when it can write the target dir; otherwise
# it warns and downloads as root. Let _apt reach and write the dir to keep the output clean.
if id _apt >/dev/null 2>&1; then
  chmod 0755 "$scratch"
  chown _apt "$dl"
fi

download_debs() {
  rm -f "$dl"/*.deb
  (cd "$dl" && apt-get download -q "$@" >&2)
}

# ---------------------------------------------------------------------------------------------------
log "building into $CACHE_DIR (recipe '$RECIPE_VERSION')"

# Host tools: cpio writes the initramfs, depmod (kmod) computes module dependencies of the unpacked
# kernel. Both are small; everything else used here (dpkg-deb, apt, gzip, ldd, flock) is in Debian's
# base system.
apt_install_missing cpio kmod || die "could not install cpio/kmod"

kernel_pkg="$(resolve_kernel_pkg || true)"
if [[ -z "$kernel_pkg" ]]; then
  apt_update_once || true
  kernel_pkg="$(resolve_kernel_pkg || true)"
fi
[[ -n "$kernel_pkg" ]] || die "apt-cache depends linux-image-amd64 names no linux-image-6.1.*-amd64 package"

log "downloading $kernel_pkg, busybox-static, qemu-guest-agent"
if ! download_debs "$kernel_pkg" busybox-static qemu-guest-agent; then
  # Typically stale lists: the versioned kernel package they name was superseded and removed from the
  # archive. Refresh once, resolve the kernel package again and retry.
  apt_update_once || die "apt-get download failed (and the lists were already refreshed)"
  kernel_pkg="$(resolve_kernel_pkg || true)"
  [[ -n "$kernel_pkg" ]] || die "no linux-image-6.1.*-amd64 package after apt-get update"
  log "retrying download: $kernel_pkg, busybox-static, qemu-guest-agent"
  download_debs "$kernel_pkg" busybox-static qemu-guest-agent || die "apt-get download failed"
fi

only_file() { # the single file matching a glob (given as separate words), or die
  local matches=("$@")
  [[ ${#matches[@]} -eq 1 && -e "${matches[0]}" ]] || die "expected exactly one match, got: ${matches[*]}"
  echo "${matches[0]}"
}
kernel_deb="$(only_file "$dl/${kernel_pkg}"_*.deb)"
busybox_deb="$(only_file "$dl"/busybox-static_*.deb)"
qga_deb="$(only_file "$dl"/qemu-guest-agent_*.deb)"

# ---------------------------------------------------------------------------------------------------
# Kernel: unpack (not install), take vmlinuz, and generate modules.dep/modules.builtin lookups.
kx="$scratch/kernel"
dpkg-deb -x "$kernel_deb" "$kx"
vmlinuz="$(only_file "$kx"/boot/vmlinuz-*)"
kver="${vmlinuz##*/vmlinuz-}"
if [[ -d "$kx/lib/modules/$kver" ]]; then
  moddir="$kx/lib/modules/$kver"
elif [[ -d "$kx/usr/lib/modules/$kver" ]]; then
  # Newer Debian kernels ship under /usr/lib/modules; depmod -b looks under BASE/lib/modules.
  moddir="$kx/usr/lib/modules/$kver"
  [[ -e "$kx/lib" ]] || ln -s usr/lib "$kx/lib"
else
  die "no modules directory for $kver in $kernel_deb"
fi
log "kernel $kver"
# The .deb ships no modules.dep (the postinst runs depmod), so make one for the unpacked tree.
depmod -b "$kx" "$kver"
[[ -s "$moddir/modules.dep" ]] || die "depmod produced no modules.dep"

# name (dashes normalized to underscores, as the kernel does) -> path relative to $moddir, and
# -> space separated dependency paths; plus the set of built-in module names.
declare -A mod_path=() mod_deps=() mod_builtin=()
while IFS= read -r line; do
  path="${line%%:*}"
  name="${path##*/}"
  name="${name%%.ko*}"
  name="${name//-/_}"
  mod_path[$name]="$path"
  mod_deps[$name]="${line#*:}"
done <"$moddir/modules.dep"
if [[ -f "$moddir/modules.builtin" ]]; then
  while IFS= read -r path; do
    name="${path##*/}"
    name="${name%%.ko*}"
    mod_builtin[${name//-/_}]=1
  done <"$moddir/modules.builtin"
fi

# Depth-first: a module's dependencies go into load_order before the module itself.
load_order=()
declare -A mod_seen=()
add_module() {
  local m="$1" dep dn
  [[ -z "${mod_seen[$m]:-}" ]] || return 0
  mod_seen[$m]=1
  if [[ -n "${mod_builtin[$m]:-}" ]]; then
    log "  module $m is built into the kernel"
    return 0
  fi
  [[ -n "${mod_path[$m]:-}" ]] || die "module $m is neither in modules.dep nor built in ($kver)"
  # shellcheck disable=SC2086 # word splitting of the space separated list is intended
  for dep in ${mod_deps[$m]}; do
    dn="${dep##*/}"
    dn="${dn%%.ko*}"
    add_module "${dn//-/_}"
  done
  load_order+=("$m")
}
for m in "${MODULES[@]}"; do add_module "$m"; done
log "modules, in load order: ${load_order[*]}"

# Bookworm's 6.1 modules are plain .ko; other kernel builds may ship .ko.xz/.ko.zst. Those are unpacked
# here, so the guest's busybox insmod only ever sees plain .ko files.
for m in "${load_order[@]}"; do
  case "${mod_path[$m]}" in
    *.ko.xz) command -v xz >/dev/null || apt_install_missing xz-utils || die "need xz-utils" ;;
    *.ko.zst) command -v zstd >/dev/null || apt_install_missing zstd || die "need zstd" ;;
  esac
done

# ---------------------------------------------------------------------------------------------------
# The initramfs tree.
root="$scratch/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib/modules,etc/acpi/PWRF,dev,proc,sys,run,tmp,mnt/data,var}
ln -s ../run "$root/var/run"
# The kernel's built-in initramfs provides /dev/console too; having it here as well means /init's
# stdout reaches the console even before devtmpfs is mounted, whatever kernel is used.
mknod -m 600 "$root/dev/console" c 5 1

for m in "${load_order[@]}"; do
  src="$moddir/${mod_path[$m]}"
  case "$src" in
    *.ko) cp "$src" "$root/lib/modules/$m.ko" ;;
    *.ko.xz) xz -dc "$src" >"$root/lib/modules/$m.ko" ;;
    *.ko.zst) zstd -dcq "$src" >"$root/lib/modules/$m.ko" ;;
    *.ko.gz) gzip -dc "$src" >"$root/lib/modules/$m.ko" ;;
    *) die "unexpected module file $src" ;;
  esac
done
printf '%s\n' "${load_order[@]}" >"$root/etc/guest-modules"

# busybox-static: one binary; a symlink per applet at the path busybox itself reports.
bx="$scratch/busybox"
dpkg-deb -x "$busybox_deb" "$bx"
if [[ -x "$bx/bin/busybox" ]]; then
  cp "$bx/bin/busybox" "$root/bin/busybox"
elif [[ -x "$bx/usr/bin/busybox" ]]; then
  cp "$bx/usr/bin/busybox" "$root/bin/busybox"
else
  die "no busybox binary in $busybox_deb"
fi
while IFS= read -r applet; do
  [[ -e "$root/$applet" || -L "$root/$applet" ]] || ln -s /bin/busybox "$root/$applet"
done < <("$root/bin/busybox" --list-full)
[[ -L "$root/bin/sh" ]] || ln -s /bin/busybox "$root/bin/sh"

# qemu-ga from the (unpacked, not installed) qemu-guest-agent package, plus every shared library ldd
# resolves for it, copied from the host to the same path. First make sure the host has the library
# packages the agent's package depends on (qemu-system-x86 usually brought them already).
qx="$scratch/qga"
dpkg-deb -x "$qga_deb" "$qx"
[[ -x "$qx/usr/sbin/qemu-ga" ]] || die "no usr/sbin/qemu-ga in $qga_deb"
cp "$qx/usr/sbin/qemu-ga" "$root/usr/sbin/qemu-ga"
mapfile -t qga_lib_pkgs < <(dpkg-deb -f "$qga_deb" Depends | tr ',' '\n' |
  sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' -e 's/[[:space:]]//g' | grep -v '^$')
apt_install_missing "${qga_lib_pkgs[@]}" || die "could not install qemu-ga's libraries: ${qga_lib_pkgs[*]}"

ldd_out="$(ldd "$root/usr/sbin/qemu-ga")" || die "ldd failed on qemu-ga"
if grep -q 'not found' <<<"$ldd_out"; then
  die "qemu-ga needs libraries the host lacks:"$'\n'"$ldd_out"
fi
qga_libs=()
while read -r a b c _; do
  if [[ "$b" == "=>" && "$c" == /* ]]; then
    qga_libs+=("$c") # libfoo.so.N => /lib/x86_64-linux-gnu/libfoo.so.N (0x...)
  elif [[ "$a" == /* ]]; then
    qga_libs+=("$a") # the dynamic loader: /lib64/ld-linux-x86-64.so.2 (0x...)
  fi                 # else linux-vdso.so.1: provided by the kernel
done <<<"$ldd_out"
for lib in "${qga_libs[@]}"; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib" # -L: Debian's /lib64/ld-linux... etc. are symlinks
done
log "qemu-ga libraries: ${qga_libs[*]##*/}"

# Power-off helper shared by /sbin/shutdown (qemu-ga guest-shutdown runs
# `/sbin/shutdown -h -P +0 "hypervisor initiated shutdown"`) and the ACPI power button action.
# It stops the tick writer, flushes and unmounts /mnt/data so the data disk is left clean, and then
# powers off at once (poweroff -f: there is no init system to hand over to). QEMU then exits.
cat >"$root/sbin/guest-poweroff" <<'EOF'
#!/bin/sh
# Both callers point our stdout at /dev/null (qemu-ga does for its children): log to the console.
exec >/dev/console 2>&1
echo "test-guest: powering off ($*)"
if [ -r /run/ticker.pid ]; then
  kill "$(cat /run/ticker.pid)" 2>/dev/null
  rm -f /run/ticker.pid
fi
sync
if grep -q ' /mnt/data ' /proc/mounts; then
  # The writer may still be inside an append for a moment after the kill: retry briefly, and fall
  # back to a read-only remount so at least the journal is clean.
  n=0
  until umount /mnt/data 2>/dev/null; do
    n=$((n + 1))
    if [ "$n" -ge 10 ]; then
      echo "test-guest: umount /mnt/data failed, remounting read-only"
      mount -o remount,ro /mnt/data || echo "test-guest: remount read-only failed too"
      break
    fi
    usleep 100000
  done
fi
sync
poweroff -f
EOF
cat >"$root/sbin/shutdown" <<'EOF'
#!/bin/sh
# Whatever the arguments (qemu-ga passes -h -P +0 "..."), power off now.
exec /sbin/guest-poweroff "shutdown $*"
EOF
# busybox acpid maps the power button (KEY_POWER) to the action file PWRF/00000080 under -c DIR.
cat >"$root/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
exec /sbin/guest-poweroff "ACPI power button"
EOF

# /init: PID 1 of the guest (busybox sh).
cat >"$root/init" <<'EOF'
#!/bin/sh
# PID 1 of the guestvault test guest (generated by scripts/build-test-guest.sh).
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
log() { echo "test-guest: $*"; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/virtio-ports /run /tmp /mnt/data
log "init at uptime $(cut -d' ' -f1 /proc/uptime) s"

# Kernel modules, dependencies first (the order was computed from modules.dep at build time).
# Without udev/modprobe nothing loads them on demand.
while read -r m; do
  insmod "/lib/modules/$m.ko" || log "insmod $m failed"
done </etc/guest-modules

# Wait up to $2 tenths of a second for the file/dir $1.
wait_for() {
  i=0
  while [ ! -e "$1" ] && [ "$i" -lt "$2" ]; do usleep 100000; i=$((i + 1)); done
  [ -e "$1" ]
}

# What udev would do: /dev/virtio-ports/<port name> -> ../vportNpM. The host announces its ports
# asynchronously after virtio_console loads, so this runs again until the agent's port shows up.
link_ports() {
  for p in /sys/class/virtio-ports/*; do
    [ -r "$p/name" ] || continue
    name=$(cat "$p/name")
    [ -n "$name" ] && [ -e "/dev/${p##*/}" ] || continue
    ln -sfn "../${p##*/}" "/dev/virtio-ports/$name"
  done
}
AGENT_PORT=/dev/virtio-ports/org.qemu.guest_agent.0
i=0
while link_ports; [ ! -e "$AGENT_PORT" ] && [ "$i" -lt 50 ]; do usleep 100000; i=$((i + 1)); done
[ -e "$AGENT_PORT" ] || log "no virtio-serial port org.qemu.guest_agent.0 (yet)"

# The data disk, if the VM has one. A failed mount is logged and the guest carries on (the agent
# is still useful), it just has nothing to freeze.
if [ -e /sys/block/vda ]; then
  if wait_for /dev/vda 50 && mount -t ext4 /dev/vda /mnt/data; then
    log "mounted /dev/vda on /mnt/data"
  else
    log "mounting /dev/vda on /mnt/data failed, continuing without it"
  fi
else
  log "no /dev/vda, nothing mounted on /mnt/data"
fi

# ACPI power button (QMP system_powerdown) -> /etc/acpi/PWRF/00000080. acpid opens the
# /dev/input/event* nodes when it starts, so wait for the button's node first.
wait_for /dev/input/event0 30 || log "no /dev/input/event0, acpid may miss the power button"
acpid -c /etc/acpi -l /run/acpid.log -p /run/acpid.pid || log "acpid failed to start"

# Writer: while /mnt/data is mounted, append "tick <counter> <uptime>" to ticks.log and fsync it
# (busybox `sync FILE`) every 200 ms. A frozen file system blocks the append, which shows up as a
# gap in the uptimes. The counter continues from the file's last line, so it increases across boots.
data_mounted() {
  while read -r _ mp _; do [ "$mp" = /mnt/data ] && return 0; done </proc/mounts
  return 1
}
ticker() {
  n=$(tail -n 1 /mnt/data/ticks.log 2>/dev/null | cut -d' ' -f2)
  case "$n" in '' | *[!0-9]*) n=0 ;; esac
  while data_mounted; do
    n=$((n + 1))
    read -r up _ </proc/uptime
    echo "tick $n $up" >>/mnt/data/ticks.log
    sync /mnt/data/ticks.log
    usleep 200000
  done
}
if data_mounted; then
  ticker &
  echo $! >/run/ticker.pid
fi

# The guest agent, in the foreground, respawned if it ever exits (PID 1 must not exit: that
# panics the kernel). The marker tells a waiting test that the agent is about to start; the agent
# only answers once it has opened the port, so clients should still poll with guest-sync-delimited.
log "qemu-ga starting at uptime $(cut -d' ' -f1 /proc/uptime) s"
echo "GUESTVAULT-TEST-GUEST READY"
while :; do
  qemu-ga -m virtio-serial -p "$AGENT_PORT" -t /run
  log "qemu-ga exited with status $?, restarting in 1 s"
  sleep 1
  link_ports
done
EOF
chmod 0755 "$root/init" "$root/sbin/guest-poweroff" "$root/sbin/shutdown" "$root/etc/acpi/PWRF/00000080"

# ---------------------------------------------------------------------------------------------------
# Pack. Sorted names and root ownership keep the archive stable across builds.
log "packing the initramfs"
cp "$vmlinuz" "$stage/vmlinuz"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9n >"$stage/initrd.img"

pkg_version() { dpkg-deb -f "$1" Version; }
{
  echo "$RECIPE_VERSION"
  echo "kernel: $kernel_pkg $(pkg_version "$kernel_deb") ($kver)"
  echo "busybox-static: $(pkg_version "$busybox_deb")"
  echo "qemu-guest-agent: $(pkg_version "$qga_deb")"
  echo "modules: ${load_order[*]}"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$stage/stamp.new"
# Flush the contents before the stamp exists, then the stamp, then rename the directory into place.
sync "$stage/vmlinuz" "$stage/initrd.img" "$stage/stamp.new"
mv "$stage/stamp.new" "$stage/stamp"
chmod 0755 "$stage"
chmod 0644 "$stage"/*

# Swap directories. Between the two renames CACHE_DIR briefly doesn't exist, which a reader sees as
# "not built"; it never sees a mix of old and new files.
if [[ -e "$CACHE_DIR" ]]; then mv -T "$CACHE_DIR" "$CACHE_DIR.old.$$"; fi
mv -T "$stage" "$CACHE_DIR"
rm -rf "$CACHE_DIR.old.$$"

log "done in $((SECONDS - start_seconds)) s: vmlinuz $(stat -c %s "$CACHE_DIR/vmlinuz") bytes, initrd.img $(stat -c %s "$CACHE_DIR/initrd.img") bytes"
echo "$CACHE_DIR"
