// Builds the renderer (Svelte 5) into dist/renderer. `base: './'` keeps every asset URL relative,
// so the same build works from Electron's file:// page and from `zhongjing serve` over HTTP.
//
// Dev: `ZHONGJING_API=http://127.0.0.1:PORT npx vite` proxies /api (and its WebSocket) to a
// running `zhongjing serve`, so the UI can be worked on with hot reload; open the dev page with
// `?token=<the serve token>`.
import {fileURLToPath} from 'node:url';
import {defineConfig} from 'vite';
import {svelte} from '@sveltejs/vite-plugin-svelte';

const api = process.env.ZHONGJING_API;

export default defineConfig({
  root: fileURLToPath(new URL('./renderer', import.meta.url)),
  base: './',
  plugins: [svelte({compilerOptions: {runes: true}})],
  build: {
    outDir: fileURLToPath(new URL('./dist/renderer', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // The polyfill is only for old browsers; leaving it out keeps the output free of anything
    // the strict CSP (script-src 'self') could object to.
    modulePreload: {polyfill: false},
    // An offline desktop app: no need to split into many small chunks.
    chunkSizeWarningLimit: 1500,
  },
  server: api ? {proxy: {'/api': {target: api, ws: true, changeOrigin: false}}} : {},
});
