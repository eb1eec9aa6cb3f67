// Builds the console to dist/ (gitignored): index.html, one script and one stylesheet under
// assets/, all loaded from the console's own origin, so the server's strict CSP
// (`default-src 'self'`, no inline script or style, no eval) holds.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  // Relative asset URLs: the console works wherever the server mounts it.
  base: './',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Never inline assets as data: URLs (CSP default-src 'self' refuses them).
    assetsInlineLimit: 0,
    // No module-preload polyfill: evergreen browsers preload modules natively.
    modulePreload: { polyfill: false },
    // No source maps in what is served.
    sourcemap: false,
    target: 'es2022',
    reportCompressedSize: false,
  },
});
