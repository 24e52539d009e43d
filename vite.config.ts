// Builds the renderer (Svelte 5) into dist/renderer. `base: './'` keeps every asset URL relative,
// so the same build works from Electron's file:// page and from `zhongjing serve` over HTTP.
//
// Dev: `ZHONGJING_API=http://127.0.0.1:PORT npx vite` proxies /api (and its WebSocket) to a
// running `zhongjing serve`, so the UI can be worked on with hot reload; open the dev page with
// `?token=<the serve token>`.
import {fileURLToPath} from 'node:url';
import {defineConfig, type Plugin} from 'vite';
import {svelte} from '@sveltejs/vite-plugin-svelte';
import {META_CONTENT_SECURITY_POLICY} from './main/common/csp.ts';

const api = process.env.ZHONGJING_API;

/** renderer/index.html carries the UI's CSP as a meta tag (for Electron's file:// page); the
 * policy itself is defined once, in main/common/csp.ts, which serve and Electron also send as a
 * header. This check fails the build if the two ever differ. */
function cspMatchesShared(): Plugin {
  return {
    name: 'zhongjing-csp-check',
    transformIndexHtml(html) {
      const meta = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"/i.exec(html);
      if (!meta) throw new Error('renderer/index.html: the Content-Security-Policy meta tag is missing');
      if (meta[1] !== META_CONTENT_SECURITY_POLICY)
        throw new Error(`renderer/index.html: CSP meta differs from main/common/csp.ts\n  meta:   ${meta[1]}\n  shared: ${META_CONTENT_SECURITY_POLICY}`);
      return html;
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('./renderer', import.meta.url)),
  base: './',
  // All Svelte options live here (no svelte.config.js): every component is in runes mode.
  plugins: [svelte({configFile: false, compilerOptions: {runes: true}}), cspMatchesShared()],
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
