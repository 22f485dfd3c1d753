import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests drive the CLI many times on a 2-core machine; a loaded CI box is slower.
    testTimeout: 240_000,
    hookTimeout: 120_000,
    // Integration tests spawn the built CLI and worker threads; two cores are all we have.
    maxWorkers: 2,
  },
});
