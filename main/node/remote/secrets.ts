// Where the API keys of remote endpoints are kept: never in SQLite. In the Electron app, in the OS
// keychain through safeStorage (the key is encrypted with a key the keychain holds, and the
// ciphertext kept in <data>/secrets/); in plain Node (`zhongjing serve`, the CLI) there is no
// keychain, so in a file per key in <data>/secrets/ with mode 0600 in a 0700 folder, readable
// only by the user who runs the workstation. `kind` says which, and the UI says so.

import {chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {randomBytes} from 'node:crypto';

export interface SecretStore {
  readonly kind: 'keychain' | 'file';
  get(name: string): string | null;
  set(name: string, value: string): void;
  delete(name: string): void;
}

function checkName(name: string): string {
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(name)) throw new Error(`invalid secret name: ${name}`);
  return name;
}

function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, {recursive: true, mode: 0o700});
  if (process.platform !== 'win32') chmodSync(dir, 0o700);
}

/** Written to a temporary name with mode 0600 and renamed, so a key is never world-readable even
 * for a moment, and a crash never leaves half a key. */
function writePrivate(file: string, data: Buffer | string): void {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, data, {mode: 0o600});
  if (process.platform !== 'win32') chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** No keychain: the key as text in <dir>/<name>.key (0600) in a 0700 folder. */
export class FileSecretStore implements SecretStore {
  readonly kind = 'file' as const;
  constructor(readonly dir: string) {}

  file(name: string): string {
    return join(this.dir, `${checkName(name)}.key`);
  }
  get(name: string): string | null {
    const file = this.file(name);
    return existsSync(file) ? readFileSync(file, 'utf8') : null;
  }
  set(name: string, value: string): void {
    ensurePrivateDir(this.dir);
    writePrivate(this.file(name), value);
  }
  delete(name: string): void {
    rmSync(this.file(name), {force: true});
  }
}

/** The OS keychain through an encrypt/decrypt pair (Electron's safeStorage): only ciphertext is
 * written, to <dir>/<name>.enc (0600). */
export class EncryptedSecretStore implements SecretStore {
  readonly kind = 'keychain' as const;
  constructor(
    readonly dir: string,
    private readonly cipher: {encrypt(text: string): Buffer; decrypt(data: Buffer): string},
  ) {}

  private file(name: string): string {
    return join(this.dir, `${checkName(name)}.enc`);
  }
  get(name: string): string | null {
    const file = this.file(name);
    return existsSync(file) ? this.cipher.decrypt(readFileSync(file)) : null;
  }
  set(name: string, value: string): void {
    ensurePrivateDir(this.dir);
    writePrivate(this.file(name), this.cipher.encrypt(value));
  }
  delete(name: string): void {
    rmSync(this.file(name), {force: true});
  }
}
