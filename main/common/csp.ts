// The one Content-Security-Policy of the UI, sent by `serve` as a header and set by Electron on
// every response; renderer/index.html carries the same policy as a meta tag. No remote content:
// scripts, styles, images and connections stay on this machine.
const DIRECTIVES = [
  "default-src 'self'",
  "script-src 'self'",
  // Svelte transitions set inline style attributes
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self' ws://127.0.0.1:* ws://localhost:* http://127.0.0.1:* http://localhost:*",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
];

export const CONTENT_SECURITY_POLICY = DIRECTIVES.join('; ');

/** The meta-tag form: browsers ignore frame-ancestors in a meta tag (and warn), so it is only
 * sent as a header. */
export const META_CONTENT_SECURITY_POLICY = DIRECTIVES.filter((d) => !d.startsWith('frame-ancestors')).join('; ');
