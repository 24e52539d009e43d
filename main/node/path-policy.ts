// The one policy for every path a person names through the API (imports, exports, models):
//   - a path is text without NUL, made absolute;
//   - reads take regular files only (no FIFO, device, directory, /proc or /sys: files.ts);
//   - writes go to a regular file or a folder on a real file system, and an existing target is
//     refused unless the caller says `overwrite` (exports used to replace files, /dev/null included);
//   - under `serve` (confined), both stay inside the data directory and the folders the person
//     allowed (Settings → 允许访问的文件夹, or `serve --allow-dir`). Over the README's SSH tunnel
//     the server's disk is not the user's disk: files reach the browser as uploads and downloads,
//     and a typed path is a path on the server, so it is held to folders someone chose.
// The CLI and the desktop app are not confined: the person at the shell or the native file dialog
// already decides. Symbolic links are resolved before the check, so a link inside an allowed
// folder cannot lead out of it.

import {constants} from 'node:fs';
import {access, mkdir, readdir, realpath, stat} from 'node:fs/promises';
import {dirname, isAbsolute, join, relative, resolve, sep} from 'node:path';
import {AppError, type LocalisedText} from '../common/errors.js';
import {checkRegularFile, pseudoFileSystemOf} from './files.js';


export interface PathPolicy {
  /** true under `serve`: reads and writes only inside `roots()` */
  readonly confined: boolean;
  /** the data directory first, then the allowed folders */
  roots(): string[];
  /** the workstation's own files and folders (the store, its backups, the secrets, logs): never read
   * or written as a person's file, confined or not — an annotation export once replaced the live
   * database with its JSONL, and an import's rejected-row excerpts would show a secret's text */
  guarded?(): string[];
}

export const unconfined: PathPolicy = {confined: false, roots: () => []};

const said = (path: string) => (path.length > 200 ? `${path.slice(0, 200)}…` : path);

function denied(path: string, roots: string[], real = path): AppError {
  const list = roots.join('、');
  // through a symbolic link the path on screen may look inside an allowed folder while the file
  // is elsewhere: say where it really is, which is the folder that would have to be allowed
  const where = real === path ? `“${said(path)}”` : `“${said(path)}”（经符号链接实际指向“${said(real)}”）`;
  const whereEn = real === path ? `"${said(path)}"` : `"${said(path)}" (a symbolic link to "${said(real)}")`;
  return new AppError('path_denied', {
    zh: `服务模式下只能读写数据目录和允许的文件夹（${list}），而${where}不在其中。可在“设置 → 允许访问的文件夹”中添加，或用 zhongjing serve --allow-dir 启动；浏览器中的文件请用上传与下载。`,
    en: `In serve mode only the data directory and the allowed folders (${list}) can be read or written, and ${whereEn} is not in them. Add its folder under Settings → Allowed folders, or start zhongjing serve with --allow-dir; files on your own computer go through upload and download.`,
  });
}

/** Absolute, NUL-free. */
export function normalisePath(raw: string): string {
  if (raw.includes('\0'))
    throw new AppError('validation', {zh: '路径中含有空字符（NUL），无法使用。', en: 'The path contains a NUL character and cannot be used.'});
  if (raw.trim() === '') throw new AppError('validation', {zh: '路径为空。', en: 'The path is empty.'});
  return resolve(raw);
}

/** The real path of `path`, or of its nearest existing ancestor joined with the rest. */
async function realOrAncestor(path: string): Promise<{real: string; existing: string}> {
  let existing = path;
  for (;;) {
    try {
      const real = await realpath(existing);
      return {real: join(real, relative(existing, path)), existing};
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw asIoError(path, error);
      const parent = dirname(existing);
      if (parent === existing) return {real: path, existing: parent};
      existing = parent;
    }
  }
}

const within = (path: string, root: string) => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);

function guardedFile(path: string): AppError {
  return new AppError('path_denied', {
    zh: `“${said(path)}”是工作站自己的数据（数据库、备份、密钥、日志或临时文件），不能作为导入的来源或导出的目标。请选择数据目录中的 exports 文件夹或其他位置。`,
    en: `"${said(path)}" is the workstation's own data (its database, backups, secrets, logs or temporary files) and cannot be imported from or exported to. Choose the exports folder in the data directory, or another place.`,
  });
}

async function confine(policy: PathPolicy, path: string): Promise<void> {
  const guarded = policy.guarded?.() ?? [];
  if (!policy.confined && guarded.length === 0) return;
  const {real} = await realOrAncestor(path);
  if (guarded.length) {
    const realGuarded = await Promise.all(guarded.map((g) => realOrAncestor(resolve(g)).then((r) => r.real)));
    if (realGuarded.some((g) => within(real, g))) throw guardedFile(path);
    // a hard link is another name for the same file: compare the file itself (device and inode)
    const target = await stat(path).catch(() => null);
    if (target?.isFile() && target.nlink > 1) {
      const same = await Promise.all(guarded.map((g) => stat(g).then((st) => st.dev === target.dev && st.ino === target.ino, () => false)));
      if (same.some(Boolean)) throw guardedFile(path);
    }
  }
  if (!policy.confined) return;
  const roots = policy.roots();
  const realRoots = await Promise.all(roots.map((r) => realpath(r).catch(() => resolve(r))));
  if (!realRoots.some((root) => within(real, root))) throw denied(path, roots, real);
}

function asIoError(path: string, error: unknown): AppError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return new AppError('io', {zh: `没有权限访问：${said(path)}`, en: `Permission denied: ${said(path)}`});
  if (code === 'ENAMETOOLONG') return new AppError('validation', {zh: '路径过长。', en: 'The path is too long.'});
  if (code === 'ELOOP') return new AppError('validation', {zh: `路径中的符号链接构成了循环：${said(path)}`, en: `The path's symbolic links loop: ${said(path)}`});
  if (error instanceof AppError) return error;
  const text = error instanceof Error ? error.message : String(error);
  return new AppError('io', {zh: `无法访问“${said(path)}”：${text}`, en: `Cannot access "${said(path)}": ${text}`});
}

function exists(path: string, what: LocalisedText): AppError {
  return new AppError('file_exists', {
    zh: `${what.zh}已存在：${said(path)}。如要替换，请选择“覆盖”。`,
    en: `The ${what.en} already exists: ${said(path)}. Choose "overwrite" to replace it.`,
  });
}

/** A file to read: normalised, confined, and a regular file no larger than `maxBytes`. */
export async function readablePath(policy: PathPolicy, raw: string, maxBytes = Infinity): Promise<string> {
  const path = normalisePath(raw);
  await confine(policy, path);
  try {
    await checkRegularFile(path, maxBytes);
  } catch (error) {
    if (error instanceof AppError)
      throw new AppError(error.code, {zh: `${said(path)}：${error.localised.zh}`, en: `${said(path)}: ${error.localised.en}`});
    throw asIoError(path, error);
  }
  return path;
}

/** Where a new folder may be made: its nearest existing ancestor is a writable directory on a
 * real file system (a path under /proc used to spin mkdir forever). */
async function checkWritableAncestor(path: string): Promise<void> {
  const {existing} = await realOrAncestor(path);
  const stats = await stat(existing).catch((error: unknown) => {
    throw asIoError(existing, error);
  });
  if (!stats.isDirectory())
    throw new AppError('validation', {zh: `“${said(existing)}”不是文件夹，无法在其中写入。`, en: `"${said(existing)}" is not a folder; nothing can be written under it.`});
  if (await pseudoFileSystemOf(existing))
    throw new AppError('validation', {zh: `“${said(existing)}”是系统伪文件系统（如 /proc），不能写入。`, en: `"${said(existing)}" is on a system pseudo-file system (such as /proc) and cannot be written.`});
  await access(existing, constants.W_OK).catch((error: unknown) => {
    throw asIoError(existing, error);
  });
}

/** A file to write: its folder is made; an existing file is refused unless `overwrite`, and
 * anything that is not a regular file (a device such as /dev/null, a folder) always. */
export async function writableFile(policy: PathPolicy, raw: string, options: {overwrite?: boolean} = {}): Promise<string> {
  const path = normalisePath(raw);
  await confine(policy, path);
  const current = await stat(path).catch(() => null);
  if (current) {
    if (!current.isFile())
      throw new AppError('validation', {zh: `“${said(path)}”不是普通文件（文件夹、设备或管道），不能写入。`, en: `"${said(path)}" is not a regular file (a folder, a device or a pipe) and cannot be written.`});
    if (!options.overwrite) throw exists(path, {zh: '文件', en: 'file'});
  }
  await checkWritableAncestor(dirname(path));
  await mkdir(dirname(path), {recursive: true}).catch((error: unknown) => {
    throw asIoError(path, error);
  });
  return path;
}

/** A folder to write files into: made if missing; when it exists, `clashes` names the files this
 * write would replace, refused unless `overwrite`. */
export async function writableFolder(policy: PathPolicy, raw: string, options: {overwrite?: boolean; clashes?: (names: string[]) => string[]} = {}): Promise<string> {
  const path = normalisePath(raw);
  await confine(policy, path);
  const current = await stat(path).catch(() => null);
  if (current) {
    if (!current.isDirectory())
      throw new AppError('validation', {zh: `“${said(path)}”不是文件夹。`, en: `"${said(path)}" is not a folder.`});
    const clashing = options.clashes ? options.clashes(await readdir(path)) : [];
    if (clashing.length && !options.overwrite) throw exists(join(path, clashing[0]!), {zh: '文件', en: 'file'});
  }
  await checkWritableAncestor(path);
  await mkdir(path, {recursive: true}).catch((error: unknown) => {
    throw asIoError(path, error);
  });
  return path;
}

/** A folder a person allows (settings, --allow-dir): absolute, existing, a real directory. */
export async function allowedFolder(raw: string): Promise<string> {
  const path = normalisePath(raw);
  if (!isAbsolute(raw))
    throw new AppError('validation', {zh: `请给出完整路径（绝对路径）：${said(raw)}`, en: `Give a full (absolute) path: ${said(raw)}`});
  const real = await realpath(path).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AppError('not_found', {zh: `文件夹不存在：${said(path)}`, en: `No such folder: ${said(path)}`});
    throw asIoError(path, error);
  });
  if (!(await stat(real)).isDirectory()) throw new AppError('validation', {zh: `不是文件夹：${said(path)}`, en: `Not a folder: ${said(path)}`});
  if (real === '/' || (await pseudoFileSystemOf(real)))
    throw new AppError('validation', {zh: `不能允许访问整个系统或系统伪文件系统：${said(path)}`, en: `The whole system or a system pseudo-file system cannot be allowed: ${said(path)}`});
  return real;
}
