// The data-directory lock: one writer per data directory. Services take it before they open the
// store (a second `serve`, app window or CLI write command on the same directory is refused with
// the owner's pid and kind), and give it back on close or when the process exits.
//
// Mechanism: `<data>/zhongjing.lock` created with O_EXCL ('wx'), holding {pid, host, kind,
// startedAt, procStart}. A lock left by a process that died (kill -9, power cut) is stale: its
// pid no longer runs, or the pid now belongs to another process (on Linux the process start time
// in /proc/<pid>/stat differs). A stale lock is renamed aside — one rename wins a race between
// two starters — checked to be the one we judged stale, removed, and the O_EXCL create retried.
// A lock written on another host (a shared network folder) is never judged stale: we cannot see
// its processes.

import {closeSync, openSync, readFileSync, renameSync, rmSync, writeSync} from 'node:fs';
import {hostname} from 'node:os';
import {join} from 'node:path';
import {AppError} from '../common/errors.js';

export const LOCK_FILE = 'zhongjing.lock';

export type LockKind = 'serve' | 'app' | 'cli' | 'test';

export interface LockOwner {
  pid: number;
  host: string;
  kind: LockKind;
  startedAt: string;
  /** /proc/<pid>/stat start time (Linux), to tell a reused pid from the owner */
  procStart: string | null;
}

export interface DataLock {
  readonly file: string;
  readonly owner: LockOwner;
  release(): void;
}

function procStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: count from the last ')'
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the process that wrote `owner` still runs on this machine. */
export function ownerAlive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true;
  if (!Number.isInteger(owner.pid) || owner.pid <= 0 || !running(owner.pid)) return false;
  if (owner.procStart) {
    const now = procStart(owner.pid);
    if (now !== null && now !== owner.procStart) return false; // the pid was reused
  }
  return true;
}

function readOwner(file: string): LockOwner | null {
  try {
    const owner = JSON.parse(readFileSync(file, 'utf8')) as LockOwner;
    return typeof owner.pid === 'number' ? owner : null;
  } catch {
    return null;
  }
}

const KIND_NAME: Record<LockKind, {zh: string; en: string}> = {
  serve: {zh: 'zhongjing serve', en: 'zhongjing serve'},
  app: {zh: '仲景桌面程序窗口', en: 'the Zhongjing desktop app'},
  cli: {zh: 'zhongjing 命令行', en: 'a zhongjing CLI command'},
  test: {zh: '测试进程', en: 'a test process'},
};

export function lockedError(dir: string, owner: LockOwner): AppError {
  const who = KIND_NAME[owner.kind] ?? KIND_NAME.cli;
  return new AppError(
    'data_locked',
    {
      zh: `数据目录 ${dir} 正在被另一个仲景进程使用（${who.zh}，进程号 ${owner.pid}，主机 ${owner.host}，自 ${owner.startedAt} 起）。同一数据目录只能有一个写入者：请使用正在运行的那个（serve 会打印它的网址），或先关闭它；也可以用 --data-dir 指定另一个目录。`,
      en: `The data directory ${dir} is in use by another Zhongjing process (${who.en}, pid ${owner.pid} on ${owner.host}, since ${owner.startedAt}). Only one process may write a data directory: use the running one (serve prints its URL) or close it first, or pass --data-dir for another directory.`,
    },
    {pid: owner.pid, host: owner.host, kind: owner.kind, startedAt: owner.startedAt},
  );
}

/** Takes the lock on `dir` or throws `data_locked`. The lock is released by `release()` or,
 * failing that, when this process exits normally; after a crash the next start finds it stale. */
export function acquireDataLock(dir: string, kind: LockKind): DataLock {
  const file = join(dir, LOCK_FILE);
  const owner: LockOwner = {pid: process.pid, host: hostname(), kind, startedAt: new Date().toISOString(), procStart: procStart(process.pid)};
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new AppError('io', {
          zh: `无法在数据目录 ${dir} 中创建锁文件：${(error as Error).message}`,
          en: `Cannot create the lock file in the data directory ${dir}: ${(error as Error).message}`,
        });
      }
      const current = readOwner(file);
      if (current === null) {
        // being written by a starter right now, or left empty by a crash between create and write:
        // wait a little, then treat it as stale
        if (attempt < 3) {
          sleepSync(50);
          continue;
        }
      } else if (ownerAlive(current)) {
        throw lockedError(dir, current);
      }
      // stale: move it aside (one rename wins), make sure it is the lock we judged, remove it
      const aside = `${file}.stale-${process.pid}`;
      try {
        renameSync(file, aside);
      } catch {
        continue; // someone else moved it first
      }
      const moved = readOwner(aside);
      if (moved && (current === null || moved.pid !== current.pid || moved.startedAt !== current.startedAt) && ownerAlive(moved)) {
        // between our read and our rename another starter took the lock: put it back
        try {
          renameSync(aside, file);
        } catch {
          /* it will be judged again below */
        }
        throw lockedError(dir, moved);
      }
      rmSync(aside, {force: true});
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(owner));
    } finally {
      closeSync(fd);
    }
    let released = false;
    const onExit = () => release();
    const release = () => {
      if (released) return;
      released = true;
      process.off('exit', onExit);
      // only our own lock is removed
      if (readOwner(file)?.pid === owner.pid && readOwner(file)?.startedAt === owner.startedAt) rmSync(file, {force: true});
    };
    process.on('exit', onExit);
    return {file, owner, release};
  }
  const current = readOwner(file);
  throw current ? lockedError(dir, current) : new AppError('data_locked', {
    zh: `无法取得数据目录 ${dir} 的锁（${LOCK_FILE} 无法读取）。若确定没有其他仲景进程在运行，请删除该文件。`,
    en: `Cannot take the lock on the data directory ${dir} (${LOCK_FILE} cannot be read). If no other Zhongjing process runs, delete that file.`,
  });
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
