#!/usr/bin/env bash
# Manual smoke check of the test guest built by scripts/build-test-guest.sh (the tests don't use it).
#
#   scripts/boot-test-guest.sh DISK.qcow2 RUNDIR
#
# Builds the guest if needed, creates DISK.qcow2 (256 MiB, ext4) if it doesn't exist, boots the guest
# under QEMU/TCG with DISK as its data disk (/dev/vda -> /mnt/data in the guest), waits for the
# "GUESTVAULT-TEST-GUEST READY" console marker, then talks to qemu-ga over its socket:
# guest-sync-delimited (polled until the agent answers), guest-ping, guest-fsfreeze-freeze,
# guest-fsfreeze-status, a 1 s pause while frozen, guest-fsfreeze-thaw, guest-fsfreeze-status, and reads
# /mnt/data/ticks.log back with guest-file-* to show the writer stalled during the freeze. Finally it
# sends "quit" over QMP. RUNDIR gets console.log, qmp.sock, qga.sock and qemu.pid.
# The agent and QMP are driven by a small inline Node script (Node 20 is there for the project anyway),
# so socat isn't needed.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 DISK.qcow2 RUNDIR" >&2
  exit 2
fi

log() { echo "boot-test-guest: $*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in qemu-system-x86_64 qemu-img mkfs.ext4 truncate node; do
  command -v "$tool" >/dev/null || die "$tool is missing (qemu-system-x86, qemu-utils, e2fsprogs, coreutils, nodejs)"
done

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Absolute paths throughout: with -daemonize QEMU changes its working directory to /.
mkdir -p "$2"
rundir="$(cd "$2" && pwd)"
disk="$(realpath -m "$1")"

# Build (or find) the guest; the build script prints the cache dir on stdout.
guest_dir="$("$script_dir/build-test-guest.sh")"

# Refuse to start a second QEMU on the same RUNDIR; otherwise clear what a previous run left.
pidfile="$rundir/qemu.pid"
is_our_qemu() { # pid $1 is alive and is a QEMU process (guards against a recycled pid)
  [[ -n "$1" && -r "/proc/$1/cmdline" ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q qemu-system
}
if [[ -s "$pidfile" ]] && is_our_qemu "$(cat "$pidfile")"; then
  die "a QEMU (pid $(cat "$pidfile")) is still running with $rundir"
fi
rm -f "$rundir/console.log" "$rundir/qmp.sock" "$rundir/qga.sock" "$pidfile"

if [[ ! -e "$disk" ]]; then
  # An ext4 file system on a raw file, converted to qcow2: the guest mounts the whole disk, no partitions.
  log "creating $disk (256 MiB ext4)"
  raw="$disk.raw.tmp"
  truncate -s 256M "$raw"
  mkfs.ext4 -q -F "$raw"
  qemu-img convert -O qcow2 "$raw" "$disk"
  rm -f "$raw"
fi

# If anything below fails, don't leave the VM running. Only the QEMU we started (by its pid) is killed.
qemu_pid=""
cleanup() {
  if [[ -n "$qemu_pid" ]] && is_our_qemu "$qemu_pid"; then
    log "killing QEMU (pid $qemu_pid)"
    kill "$qemu_pid" || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# The command line of recipe A5: TCG (no KVM here), q35, one vCPU, 512 MiB, direct kernel boot with
# the console on the first serial port written to a file, QMP on a unix socket, the disk through
# -blockdev with explicit node names (what the backup code addresses), and the agent's chardev
# exposed as the virtio-serial port org.qemu.guest_agent.0.
log "booting the guest (RUNDIR $rundir)"
t0_ms="$(date +%s%3N)"
qemu-system-x86_64 -name guestvault-test-guest -accel tcg -machine q35 -smp 1 -m 512 \
  -nodefaults -display none -no-reboot \
  -kernel "$guest_dir/vmlinuz" -initrd "$guest_dir/initrd.img" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3" \
  -serial "file:$rundir/console.log" \
  -qmp "unix:$rundir/qmp.sock,server=on,wait=off" \
  -blockdev "{\"driver\":\"file\",\"filename\":\"$disk\",\"node-name\":\"file0\"}" \
  -blockdev '{"driver":"qcow2","file":"file0","node-name":"drive0"}' \
  -device virtio-blk-pci,drive=drive0,id=vd0 \
  -device virtio-serial-pci,id=vser0 \
  -chardev "socket,path=$rundir/qga.sock,server=on,wait=off,id=qga0" \
  -device virtserialport,chardev=qga0,name=org.qemu.guest_agent.0 \
  -pidfile "$pidfile" -daemonize
qemu_pid="$(cat "$pidfile")"
log "QEMU pid $qemu_pid"

# Wait for the marker /init prints just before it starts qemu-ga.
deadline=$((SECONDS + 120))
until grep -q '^GUESTVAULT-TEST-GUEST READY' "$rundir/console.log" 2>/dev/null; do
  is_our_qemu "$qemu_pid" || die "QEMU exited before the guest was ready; console:"$'\n'"$(cat "$rundir/console.log" 2>/dev/null)"
  ((SECONDS < deadline)) || die "no READY marker after 120 s; console:"$'\n'"$(cat "$rundir/console.log")"
  sleep 0.1
done
log "READY marker after $(($(date +%s%3N) - t0_ms)) ms"

# The agent and QMP conversation. Agent protocol notes (see recipe A5): there is no greeting;
# requests sent before the agent opened its port are silently lost, so guest-sync-delimited is resent
# every 250 ms until its id comes back; that reply is preceded by a 0xFF byte, which resets the
# agent's parser on the way in and marks the start of the reply on the way out.
read -r -d '' node_script <<'EOF' || true
const net = require('net');
const t0 = Number(process.env.T0_MS);
const sinceSpawn = () => `${((Date.now() - t0) / 1000).toFixed(2)} s after spawn`;

// A JSON-lines connection: next(ms) resolves with the next parsed message, or null on timeout.
function open(path) {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(path);
    const queue = [];
    const waiters = [];
    let buf = '';
    sock.on('data', (chunk) => {
      // 0xFF never occurs in UTF-8 JSON: it is only the sync delimiter, so drop it.
      buf += Buffer.from(chunk.filter((b) => b !== 0xff)).toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line);
        const w = waiters.shift();
        if (w) w(msg); else queue.push(msg);
      }
    });
    const conn = {
      sock,
      send(obj, prefixFF = false) {
        const json = Buffer.from(JSON.stringify(obj) + '\n');
        sock.write(prefixFF ? Buffer.concat([Buffer.from([0xff]), json]) : json);
      },
      next(ms) {
        if (queue.length) return Promise.resolve(queue.shift());
        return new Promise((res) => {
          const w = (m) => { clearTimeout(timer); res(m); };
          const timer = setTimeout(() => { waiters.splice(waiters.indexOf(w), 1); res(null); }, ms);
          waiters.push(w);
        });
      },
    };
    sock.once('connect', () => resolve(conn));
    sock.once('error', reject);
  });
}

// One agent command: send, wait for the reply, print both with the round-trip time.
async function agent(qga, execute, args) {
  const req = args ? { execute, arguments: args } : { execute };
  const start = process.hrtime.bigint();
  qga.send(req);
  const reply = await qga.next(10000);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  console.log(`-> ${JSON.stringify(req)}\n<- ${JSON.stringify(reply)}  (${ms.toFixed(1)} ms)`);
  if (!reply) throw new Error(`${execute}: no reply within 10 s`);
  if (reply.error) throw new Error(`${execute}: ${reply.error.class}: ${reply.error.desc}`);
  return reply.return;
}

async function main() {
  const qga = await open(process.env.QGA_SOCK);
  // Resync until the agent answers.
  const deadline = Date.now() + 120000;
  let id = 123;
  let synced = null;
  while (!synced) {
    if (Date.now() > deadline) throw new Error('the agent did not answer guest-sync-delimited within 120 s');
    const req = { execute: 'guest-sync-delimited', arguments: { id } };
    qga.send(req, true);
    const until = Date.now() + 250;
    for (;;) { // skip late replies to earlier attempts
      const reply = await qga.next(Math.max(1, until - Date.now()));
      if (!reply) break;
      if (reply.return === id) { synced = { req, reply }; break; }
    }
    if (!synced) id++;
  }
  console.log(`-> \\xff${JSON.stringify(synced.req)}\n<- \\xff${JSON.stringify(synced.reply)}  (first answer ${sinceSpawn()}, ${id - 122} attempt(s))`);
  await agent(qga, 'guest-ping');
  console.log(`== boot to guest-ping: ${sinceSpawn()}`);

  await agent(qga, 'guest-fsfreeze-freeze');
  await agent(qga, 'guest-fsfreeze-status');
  await new Promise((r) => setTimeout(r, 1000)); // the tick writer should stall meanwhile
  await agent(qga, 'guest-fsfreeze-thaw');
  await agent(qga, 'guest-fsfreeze-status');

  // Read the tail of ticks.log back through the agent (after thaw: file ops are refused while frozen).
  await new Promise((r) => setTimeout(r, 600));
  // The disk may hold ticks of earlier boots: read to EOF in 64 KiB pieces, keep the last 64 KiB.
  const h = await agent(qga, 'guest-file-open', { path: '/mnt/data/ticks.log', mode: 'r' });
  let text = '';
  for (;;) {
    const rd = await agent(qga, 'guest-file-read', { handle: h, count: 65536 });
    text = (text + Buffer.from(rd['buf-b64'], 'base64').toString()).slice(-65536);
    if (rd.eof || rd.count === 0) break;
  }
  await agent(qga, 'guest-file-close', { handle: h });
  const ticks = text.split('\n')
    .map((l) => l.split(' ')).filter((f) => f[0] === 'tick' && f.length === 3)
    .map(([, n, up]) => ({ n: Number(n), up: Number(up) }));
  // Only this boot's ticks: uptime restarts at each boot.
  let first = 0;
  for (let i = 1; i < ticks.length; i++) if (ticks[i].up < ticks[i - 1].up) first = i;
  let gap = { s: 0 };
  for (let i = first + 1; i < ticks.length; i++) {
    const s = ticks[i].up - ticks[i - 1].up;
    if (s > gap.s) gap = { s, from: ticks[i - 1], to: ticks[i] };
  }
  console.log(`== ticks.log: ${ticks.length - first} ticks of this boot read, last ${JSON.stringify(ticks[ticks.length - 1])}; ` +
    (gap.from ? `largest gap ${gap.s.toFixed(2)} s (tick ${gap.from.n} at ${gap.from.up} -> tick ${gap.to.n} at ${gap.to.up})` : 'no gap'));
  qga.sock.destroy();

  // QMP: greeting, qmp_capabilities, quit; then wait for QEMU to close the socket.
  const qmp = await open(process.env.QMP_SOCK);
  const greeting = await qmp.next(5000);
  console.log(`<- QMP greeting: QEMU ${greeting && JSON.stringify(greeting.QMP.version.qemu)}`);
  const qmpCmd = async (execute) => {
    console.log(`-> {"execute":"${execute}"}`);
    qmp.send({ execute });
    for (;;) {
      const m = await qmp.next(10000);
      if (!m) throw new Error(`${execute}: no QMP reply`);
      if (m.event) { console.log(`<- event ${m.event} ${JSON.stringify(m.data || {})}`); continue; }
      console.log(`<- ${JSON.stringify(m)}`);
      return m;
    }
  };
  await qmpCmd('qmp_capabilities');
  const quitAt = Date.now();
  const closed = new Promise((r) => qmp.sock.once('close', r));
  await qmpCmd('quit');
  await closed;
  console.log(`== QMP socket closed ${Date.now() - quitAt} ms after quit`);
}

main().catch((e) => { console.error(`error: ${e.message}`); process.exit(1); });
EOF

T0_MS="$t0_ms" QGA_SOCK="$rundir/qga.sock" QMP_SOCK="$rundir/qmp.sock" node -e "$node_script"

# Wait for the process to be gone, then show what the guest printed.
quit_ms="$(date +%s%3N)"
deadline=$((SECONDS + 15))
while is_our_qemu "$qemu_pid"; do
  ((SECONDS < deadline)) || die "QEMU still running 15 s after quit"
  sleep 0.05
done
qemu_pid=""
log "QEMU exited (within $(($(date +%s%3N) - quit_ms)) ms of the QMP socket closing); guest console:"
sed 's/^/  | /' "$rundir/console.log" >&2
