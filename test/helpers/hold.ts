import {rmSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';

/** The engine's test hold (main/node/engine/engine-process.ts): while the file exists, a reply
 * pauses its decoding as soon as it has produced visible text, until the file is removed or the
 * reply is stopped. A test that clicks 停止 or kills the engine mid-reply holds first, so the
 * reply cannot finish before it (the tiny model writes thousands of tokens per second). */
export interface ReplyHold {
  /** for the engine's environment: pass to startServe, or set before the engine is forked */
  env: {ZHONGJING_TEST: string; ZHONGJING_TEST_HOLD_FILE: string};
  hold(): void;
  release(): void;
}

export function replyHold(dir: string): ReplyHold {
  const file = join(dir, 'hold-replies');
  return {
    env: {ZHONGJING_TEST: '1', ZHONGJING_TEST_HOLD_FILE: file},
    hold: () => writeFileSync(file, ''),
    release: () => rmSync(file, {force: true}),
  };
}
