#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build`. `vzdump` has an entry of its
// own that loads only that command (see dist/cli/vzdump-main.js).
const entry = process.argv[2] === 'vzdump' ? '../dist/cli/vzdump-main.js' : '../dist/cli/main.js';
import(entry).then((m) => m.main(process.argv)).catch((err) => {
  console.error(err?.stack ?? String(err));
  process.exit(1);
});
