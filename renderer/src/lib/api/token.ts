// The `zhongjing serve` token. It arrives once in the page URL (?token=…); we keep it in
// sessionStorage (per tab, gone when the tab closes) and take it out of the address bar so it
// does not linger in history, bookmarks or screenshots. A reload then finds it in storage.
const STORAGE_KEY = 'zhongjing.token';

export function takeToken(): string | null {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    try {
      sessionStorage.setItem(STORAGE_KEY, fromUrl);
    } catch {
      // Storage can be disabled; the token still works for this page load.
    }
    url.searchParams.delete('token');
    window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}
