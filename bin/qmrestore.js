#!/usr/bin/env node
// `qmrestore` as Proxmox administrators type it: the same as `guestvault qmrestore`.
require('../dist/cli/vzdump-client.cjs').main([process.argv[0], process.argv[1], 'qmrestore', ...process.argv.slice(2)]).catch((err) => {
  console.error(err?.stack ?? String(err));
  process.exit(1);
});
