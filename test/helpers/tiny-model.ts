import {existsSync, mkdirSync, renameSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {makeTinyModel} from '../../main/node/models/tiny-model.js';

/** The generated tiny model, made once per machine (it is deterministic) and shared by tests. */
export async function tinyModelPath(architecture: 'llama' | 'qwen2' = 'llama'): Promise<string> {
  const dir = join(tmpdir(), 'zhongjing-test-models');
  mkdirSync(dir, {recursive: true});
  const path = join(dir, `tiny-${architecture}-v1.gguf`);
  if (!existsSync(path)) {
    // write beside and rename, so a concurrent test never sees half a file
    const partial = `${path}.${process.pid}.tmp`;
    await makeTinyModel(partial, {architecture});
    renameSync(partial, path);
  }
  return path;
}
