import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

// Served by the `watchpost` binary under /console/ (embedded from dist/ by web/build.rs).
// The pages' CSP forbids inline scripts: the output's only script is a module file, and
// the module-preload polyfill (which Vite would otherwise inject) is off — every browser
// the console supports preloads modules natively.
export default defineConfig({
  base: '/console/',
  plugins: [vue()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    // Everything is a file of its own: no data: URLs for assets.
    assetsInlineLimit: 0,
    target: 'es2022',
  },
});
