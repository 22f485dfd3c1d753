#!/usr/bin/env bash
# Set up guestvault from a checkout and run the main job on the embedded default:
# create the default datastore, back up a sample disk image and a sample directory,
# list the snapshots, restore both and show they are identical to the originals.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export GUESTVAULT_HOME="${GUESTVAULT_HOME:-$PWD/var}"
gv() { node bin/guestvault.js "$@"; }
sample="$GUESTVAULT_HOME/sample"
restored="$GUESTVAULT_HOME/restored"

echo "== embedded default in $GUESTVAULT_HOME"
gv init
echo "== sample data"
node scripts/sample-data.js "$sample" 256
echo "== back up the disk image (as VM 100) and the directory (as host/demo)"
gv backup --store local --backup-type vm --backup-id 100 disk.img:"$sample/disk.img"
gv backup --store local --backup-type host --backup-id demo root.tar:"$sample/dir"
echo "== snapshots"
gv snapshots --store local
echo "== restore"
rm -rf "$restored" && mkdir -p "$restored"
vm=$(gv snapshots --store local vm/100 --output-format json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).at(-1).snapshot))')
host=$(gv snapshots --store local host/demo --output-format json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).at(-1).snapshot))')
gv restore --store local "$vm" disk.img "$restored/disk.img"
gv restore --store local "$host" root.tar "$restored/dir"
echo "== compare"
cmp "$sample/disk.img" "$restored/disk.img" && echo "disk image: identical ($(stat -c %s "$sample/disk.img") bytes)"
echo -n "directory: " && node scripts/compare-trees.js "$sample/dir" "$restored/dir"
gv verify --store local
echo "== default backup jobs (run by 'node bin/guestvault.js daemon')"
gv job list
