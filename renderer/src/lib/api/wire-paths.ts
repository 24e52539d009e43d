// The HTTP paths of `zhongjing serve`. They are declared in main/common/wire.ts; the renderer
// copies the two strings rather than importing that module at runtime, and the `typeof import`
// annotations make the type check fail if the copies ever drift from the originals.
export const HTTP_API_PREFIX: typeof import('../../../../main/common/wire').HTTP_API_PREFIX = '/api/';
export const HTTP_EVENTS_PATH: typeof import('../../../../main/common/wire').HTTP_EVENTS_PATH = '/api/events';
