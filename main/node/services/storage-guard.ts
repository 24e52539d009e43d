// Disk full, handled where the writes are. A write that fails with SQLITE_FULL / ENOSPC has
// written nothing (SQLite rolls the statement or transaction back), so:
//  - a write the caller can hand back to the person (an API call) fails with `disk_full` —
//    toAppError maps it — and nothing was acknowledged;
//  - a write of work that goes on without a caller (a streaming reply's text, its final state,
//    cleaning up after a failed import) is kept here in memory by key, the newest version
//    replacing older ones, and retried every couple of seconds until it succeeds.
// The UI is told once when the disk becomes full and once when everything held was written
// (`storage.diskFull` events), so it recovers by itself once space is freed.

import {statfsSync} from 'node:fs';
import {diskFullError, isDiskFull} from '../../common/errors.js';
import {logError} from '../log.js';
import type {EventBus} from './event-bus.js';

export class StorageGuard {
  private readonly pending = new Map<string, () => void>();
  private timer: NodeJS.Timeout | null = null;
  private full = false;

  constructor(
    private readonly bus: EventBus,
    /** the data directory: its free space tells when a full disk has room again */
    private readonly dir: string | null = null,
    private readonly retryMs = 2000,
  ) {}

  private hasRoom(): boolean {
    if (!this.dir) return true;
    try {
      const fs = statfsSync(this.dir);
      return fs.bavail * fs.bsize >= 1024 * 1024;
    } catch {
      return true;
    }
  }

  /** Whether the last write failed for lack of space and nothing has succeeded since. */
  get diskFull(): boolean {
    return this.full;
  }

  get pendingWrites(): number {
    return this.pending.size;
  }

  /** Runs `write`; on disk full keeps it under `key` (replacing an older one) and retries it
   * until it succeeds. Returns whether it is on disk now. Any other error is thrown. */
  write(key: string, write: () => void): boolean {
    this.pending.delete(key);
    try {
      write();
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      this.pending.set(key, write);
      this.reportFull();
      this.schedule();
      return false;
    }
    if (this.pending.size === 0) this.reportRecovered();
    return true;
  }

  /** Tells the guard that some write failed for lack of space (a caller got disk_full). */
  failed(error: unknown): boolean {
    if (!isDiskFull(error)) return false;
    this.reportFull();
    this.schedule();
    return true;
  }

  /** Tries every held write now, oldest first; stops at the first that still finds no room. */
  flush(): void {
    for (const [key, write] of [...this.pending]) {
      try {
        write();
        this.pending.delete(key);
      } catch (error) {
        if (isDiskFull(error)) return;
        // not a space problem: retrying will not help
        this.pending.delete(key);
        logError(`held write ${key}`, error);
      }
    }
    if (this.hasRoom()) this.reportRecovered();
  }

  /** Last try at shutdown; what still cannot be written is logged. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.pending.size) this.flush();
    if (this.pending.size) logError('shutdown', new Error(`${this.pending.size} write(s) could not be saved: the disk is still full`));
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.pending.size) this.flush();
      else if (this.hasRoom()) this.reportRecovered();
    }, this.retryMs);
    this.timer.unref();
  }

  private reportFull(): void {
    if (this.full) return;
    this.full = true;
    this.bus.emit({type: 'storage.diskFull', full: true, message: diskFullError().localised});
  }

  private reportRecovered(): void {
    if (this.pending.size) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.full) return;
    this.full = false;
    this.bus.emit({
      type: 'storage.diskFull',
      full: false,
      message: {zh: '磁盘空间已恢复，暂存的内容都已保存。', en: 'There is disk space again; everything held in memory has been saved.'},
    });
  }
}
