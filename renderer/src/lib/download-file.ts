// Saves text as a file through the browser's own download (Blob + <a download>): works the same
// in Electron and in a browser tab, and needs no file-system API.
export function saveTextFile(fileName: string, mimeType: string, content: string): void {
  const url = URL.createObjectURL(new Blob([content], {type: mimeType}));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.rel = 'noopener';
  document.body.append(link);
  link.click();
  link.remove();
  // Give the download a moment to start before the blob URL is released.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
