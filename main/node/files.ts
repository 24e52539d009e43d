// Files a person names (imports): only a regular file of a size we can hold is read whole.
// Without this, `/dev/zero` or a FIFO is read until memory or V8's string limit runs out (512 MB
// before any error), and a file in /proc reports a size that is not its length.

import {constants, type Stats} from 'node:fs';
import {open, stat, statfs} from 'node:fs/promises';
import {AppError, type LocalisedText} from '../common/errors.js';

/** statfs types of Linux pseudo-file systems, whose "files" are generated as they are read. */
const PSEUDO_FILE_SYSTEMS: Record<number, string> = {0x9fa0: '/proc', 0x62656572: '/sys', 0x64626720: 'debugfs', 0x74726163: 'tracefs'};

const MB = 1024 * 1024;

/** Strict UTF-8: a byte sequence that is not UTF-8 (GBK from a Chinese Windows editor, binary)
 * throws instead of turning into U+FFFD. The byte order mark is kept, as Buffer#toString keeps it:
 * an export's CSV needs it, and an importer drops it itself. */
const strictUtf8 = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true});

/** Why a file's text was refused when it is not UTF-8 (the caller names the file). */
export const NOT_UTF8: LocalisedText = {
  zh: '文件不是 UTF-8 编码（可能是 GBK）。请用编辑器另存为 UTF-8 后再导入。',
  en: 'The file is not UTF-8 text (it may be GBK). Save it as UTF-8 and import again.',
};

/** The name of the Linux pseudo-file system `path` lies on ('/proc', '/sys' …), or null. */
export async function pseudoFileSystemOf(path: string): Promise<string | null> {
  if (process.platform !== 'linux') return null;
  return PSEUDO_FILE_SYSTEMS[(await statfs(path).catch(() => null))?.type ?? -1] ?? null;
}

function refuse(code: 'not_found' | 'validation' | 'io', reason: LocalisedText): AppError {
  return new AppError(code, reason);
}

function kindOf(stats: Stats): LocalisedText | null {
  if (stats.isFile()) return null;
  if (stats.isDirectory()) return {zh: '这是一个目录，不是文件', en: 'a directory, not a file'};
  if (stats.isFIFO()) return {zh: '这是一个管道（FIFO），不是普通文件', en: 'a pipe (FIFO), not a regular file'};
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return {zh: '这是一个设备（如 /dev/zero），不是普通文件', en: 'a device (such as /dev/zero), not a regular file'};
  if (stats.isSocket()) return {zh: '这是一个套接字，不是普通文件', en: 'a socket, not a regular file'};
  return {zh: '不是普通文件', en: 'not a regular file'};
}

function tooLarge(size: number, maxBytes: number, atLeast = false): AppError {
  const mb = `${atLeast ? '> ' : ''}${(size / MB).toFixed(1)} MB`;
  return refuse('validation', {
    zh: `文件过大：${mb}，上限 ${maxBytes / MB} MB`,
    en: `the file is too large: ${mb}, the limit is ${maxBytes / MB} MB`,
  });
}

/** Refuses, with a reason in both languages (no path: the caller names the file), anything that
 * is not a regular file on a real file system, or is larger than `maxBytes`. */
export async function checkRegularFile(path: string, maxBytes = Infinity): Promise<Stats> {
  let stats: Stats;
  try {
    stats = await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw refuse('not_found', {zh: '找不到文件', en: 'no such file'});
    if (code === 'EACCES' || code === 'EPERM') throw refuse('io', {zh: '没有读取权限', en: 'permission denied'});
    throw error;
  }
  const kind = kindOf(stats);
  if (kind) throw refuse('validation', kind);
  const fileSystem = await pseudoFileSystemOf(path);
  if (fileSystem) throw refuse('validation', {zh: `这是 ${fileSystem} 中的伪文件，不是普通文件`, en: `a pseudo-file in ${fileSystem}, not a regular file`});
  if (stats.size > maxBytes) throw tooLarge(stats.size, maxBytes);
  return stats;
}

/** The whole file as UTF-8, after checkRegularFile. It is opened without blocking (a file swapped
 * for a FIFO after the check cannot hang the open), checked again through the handle, and read
 * no further than `maxBytes`, whatever size it claimed. Bytes that are not UTF-8 are refused
 * (NOT_UTF8), never replaced. */
export async function readRegularTextFile(path: string, maxBytes: number): Promise<string> {
  const checked = await checkRegularFile(path, maxBytes);
  const handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const stats = await handle.stat();
    if (stats.ino !== checked.ino || stats.dev !== checked.dev || kindOf(stats))
      throw refuse('validation', {zh: '文件在读取前被替换了', en: 'the file was replaced before it could be read'});
    let buffer = Buffer.allocUnsafe(Math.min(stats.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        // longer than it said: read on, but never past the limit
        if (length > maxBytes) throw tooLarge(length, maxBytes, true);
        const grown = Buffer.allocUnsafe(Math.min(buffer.length * 2, maxBytes + 1));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      const {bytesRead} = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    try {
      return strictUtf8.decode(buffer.subarray(0, length));
    } catch {
      throw refuse('validation', NOT_UTF8);
    }
  } finally {
    await handle.close();
  }
}
