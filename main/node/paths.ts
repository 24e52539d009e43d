// Where data lives. Electron passes its userData dir; the CLI and `serve` take --data-dir or
// ZHONGJING_DATA_DIR; otherwise an XDG-style default ($XDG_DATA_HOME/zhongjing, ~/.local/share/
// zhongjing; %APPDATA% on Windows; ~/Library/Application Support on macOS).

import {homedir} from 'node:os';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {existsSync, mkdirSync} from 'node:fs';

export interface DataPaths {
  root: string;
  database: string;
  /** downloaded models land here; registered local files stay where they are */
  models: string;
  logs: string;
}

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (env.ZHONGJING_DATA_DIR) return resolve(env.ZHONGJING_DATA_DIR);
  if (platform === 'win32' && env.APPDATA) return join(env.APPDATA, 'Zhongjing');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'Zhongjing');
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'zhongjing');
}

export function dataPaths(root: string): DataPaths {
  const abs = resolve(root);
  return {root: abs, database: join(abs, 'zhongjing.sqlite'), models: join(abs, 'models'), logs: join(abs, 'logs')};
}

export function ensureDataDirs(paths: DataPaths): void {
  for (const dir of [paths.root, paths.models, paths.logs]) mkdirSync(dir, {recursive: true});
}

/** The installed package's root (holds package.json and dist/), from source or from dist/. In the
 * packaged app it is resources/app.asar, which holds package.json and dist/ but no main/. */
export function packageRoot(): string {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && (existsSync(join(dir, 'main')) || existsSync(join(dir, 'dist')))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the Zhongjing package root');
}

/** Where a native file inside the packaged app's archive really is: native modules are kept
 * outside app.asar (electron-builder's asarUnpack) because the OS loader cannot read an archive.
 * Electron redirects such paths itself; this makes it explicit, and is a no-op outside a package. */
export function unpackedPath(path: string): string {
  return path.replace(/([\\/])app\.asar([\\/])/, '$1app.asar.unpacked$2');
}
