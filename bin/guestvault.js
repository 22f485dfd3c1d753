#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build`. CommonJS (see package.json
// here), because `vzdump` and `qmrestore` start with a small CommonJS client that hands the
// command line to a running daemon before anything else is loaded (see
// src/cli/vzdump-client.cts); Node's ES module loader would cost that path ~10 ms more.
const fail = (err) => {
  console.error(err?.stack ?? String(err));
  process.exit(1);
};
if (process.argv[2] === 'vzdump' || process.argv[2] === 'qmrestore') {
  require('../dist/cli/vzdump-client.cjs').main(process.argv).catch(fail);
} else {
  import('../dist/cli/main.js').then((m) => m.main(process.argv)).catch(fail);
}
