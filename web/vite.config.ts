import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// The config lives in web/, so that directory is the root whichever directory vite is started from.
const root = decodeURIComponent(new URL('.', import.meta.url).pathname);

export default defineConfig({
  root,
  base: '/',
  plugins: [preact()],
  // `npx vite web` during development: the API comes from a daemon on this machine.
  server: {
    proxy: { '/api2': { target: 'https://127.0.0.1:8007', secure: false } },
  },
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
  },
});
