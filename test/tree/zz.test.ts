import { it } from 'vitest';
import { extractTar, tarDirectory } from '../../src/tree/index.js';
it('x', async () => {
  let t = performance.now(); let n = 0; let maxRss = 0;
  async function* tee() { for await (const b of tarDirectory('/tmp/bigt/src')) { n += b.length; maxRss = Math.max(maxRss, process.memoryUsage().rss); yield b; } }
  await extractTar(tee(), '/tmp/bigt/dst');
  console.log('bytes', n, 'ms', performance.now() - t, 'maxRss MiB', maxRss / 2**20);
}, 120000);
