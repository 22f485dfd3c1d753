#!/usr/bin/env node
// `qmrestore` as Proxmox administrators type it: the same as `guestvault qmrestore`.
import('../dist/cli/main.js').then((m) => m.main([process.argv[0], process.argv[1], 'qmrestore', ...process.argv.slice(2)])).catch((err) => {
  console.error(err?.stack ?? String(err));
  process.exit(1);
});
