// Run configurations saved as JSON files (the training form's export/import): what is written
// reads back the same, settings that are missing or mistyped fall back to the objective's
// defaults, and a file that is not ours is refused with the reason.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import type {TrainingPreset} from '../../main/common/contract.js';
import {defaultTrainingConfig} from '../../main/common/training.js';
import {methods} from '../../main/common/contract.js';
import {parsePresetFile, presetFileContent, presetFileName} from '../../renderer/src/lib/training.js';

const preset: TrainingPreset = {
  name: '三步 SFT',
  savedAt: '2026-01-01T00:00:00.000Z',
  kind: 'dpo',
  modelId: 'm1',
  datasets: [{datasetId: 'd1', version: 2}],
  annotationProjects: ['p1'],
  initAdapterModelId: 'a1',
  rewardRunId: null,
  config: {...defaultTrainingConfig('dpo'), steps: 3, beta: 0.2},
};

test('a preset file reads back as it was written, and the settings schema takes it', () => {
  const parsed = parsePresetFile(presetFileContent(preset), 'x.json');
  assert.deepEqual(parsed, {preset}, 'round trip');
  assert.equal(presetFileName('三步 SFT'), '三步-SFT.zhongjing-train.json');
  const checked = methods['settings.update'].input.safeParse({trainingPresets: [preset]});
  assert.equal(checked.success, true, JSON.stringify(checked.error?.issues));
});

test('missing or mistyped settings fall back to the defaults; foreign files are refused', () => {
  const text = JSON.stringify({format: 'zhongjing-training-config', version: 1, preset: {kind: 'sft', config: {rank: 4, learningRate: 'fast', targets: ['q', 'nope']}}});
  const parsed = parsePresetFile(text, 'mine.json');
  assert.ok('preset' in parsed, 'read');
  if ('preset' in parsed) {
    assert.equal(parsed.preset.config.rank, 4, 'given value kept');
    assert.equal(parsed.preset.config.learningRate, defaultTrainingConfig('sft').learningRate, 'mistyped value → default');
    assert.deepEqual(parsed.preset.config.targets, ['q'], 'unknown target dropped');
    assert.equal(parsed.preset.name, 'mine', 'named after the file');
    assert.deepEqual([parsed.preset.datasets, parsed.preset.modelId], [[], null], 'nothing invented');
  }
  assert.deepEqual(parsePresetFile('{', 'a.json'), {problem: 'trPresetBadJson', file: 'a.json'});
  assert.deepEqual(parsePresetFile('{"kind":"sft"}', 'b.json'), {problem: 'trPresetBadShape', file: 'b.json'});
  assert.deepEqual(parsePresetFile(JSON.stringify({format: 'zhongjing-training-config', preset: {kind: 'xx', config: {}}}), 'c.json'), {problem: 'trPresetBadShape', file: 'c.json'});
});
