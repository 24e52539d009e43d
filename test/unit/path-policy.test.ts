import {test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdirSync, realpathSync, symlinkSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {readablePath, type PathPolicy} from '../../main/node/path-policy.js';
import {AppError} from '../../main/common/errors.js';
import {tempDir} from '../helpers/tmp.js';

test('a path that looks inside an allowed folder but links out of it is refused, naming where it leads', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const allowed = join(dir.path, 'allowed');
  const elsewhere = join(dir.path, 'elsewhere');
  mkdirSync(allowed);
  mkdirSync(elsewhere);
  writeFileSync(join(elsewhere, 'rows.jsonl'), '{}\n');
  writeFileSync(join(allowed, 'own.jsonl'), '{}\n');
  symlinkSync(elsewhere, join(allowed, 'shared'));
  const policy: PathPolicy = {confined: true, roots: () => [allowed]};

  assert.equal(await readablePath(policy, join(allowed, 'own.jsonl')), join(allowed, 'own.jsonl'));
  const typed = join(allowed, 'shared', 'rows.jsonl');
  await assert.rejects(readablePath(policy, typed), (error: unknown) => {
    assert.ok(error instanceof AppError && error.code === 'path_denied');
    const real = join(realpathSync(elsewhere), 'rows.jsonl');
    assert.match(error.localised.zh, new RegExp(`经符号链接实际指向“${real.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}”`));
    assert.ok(error.localised.en.includes(`a symbolic link to "${real}"`), error.localised.en);
    return true;
  });
});
