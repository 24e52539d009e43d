// The trainer addon and its libraries from the packaged layout (no Electron, no electron-builder
// run: test/integration/packaging.test.ts assembles the real tree).
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {join, resolve} from 'node:path';
import type {Llama} from 'node-llama-cpp';
import {packageRoot, unpackedPath} from '../../main/node/paths.js';
import {loadTrainer, trainerAddonPath, trainingCapabilities} from '../../main/node/training/native.js';
import {tempDir} from '../helpers/tmp.js';

const require = createRequire(import.meta.url);
const {readRunpath, keepOriginEntries} = require('../../scripts/elf-runpath.cjs') as {
  readRunpath(file: string): {tag: string; value: string} | null;
  keepOriginEntries(file: string): string | null;
};
const {fixTrainerAddons} = require('../../resources/package-hooks.cjs') as {
  fixTrainerAddons(unpacked: string, platform?: string): {addon: string; runpath: string}[];
};
const root = resolve(import.meta.dirname, '..', '..');
const builtAddon = join(root, 'native', 'build', 'cpu', 'zhongjing_trainer.node');

test('unpackedPath: a file inside app.asar is loaded from app.asar.unpacked; other paths are unchanged', () => {
  assert.equal(unpackedPath('/opt/Zhongjing/resources/app.asar/native/build/cpu/zhongjing_trainer.node'), '/opt/Zhongjing/resources/app.asar.unpacked/native/build/cpu/zhongjing_trainer.node', 'posix');
  assert.equal(unpackedPath('C:\\Program Files\\Zhongjing\\resources\\app.asar\\native\\x.node'), 'C:\\Program Files\\Zhongjing\\resources\\app.asar.unpacked\\native\\x.node', 'windows');
  assert.equal(unpackedPath('/opt/Zhongjing/resources/app.asar.unpacked/x.node'), '/opt/Zhongjing/resources/app.asar.unpacked/x.node', 'already unpacked');
  assert.equal(unpackedPath('/home/me/zhongjing/native/build/cpu/zhongjing_trainer.node'), '/home/me/zhongjing/native/build/cpu/zhongjing_trainer.node', 'a checkout');
  assert.equal(packageRoot(), root, 'the checkout root from source');
});

test('the addon is looked for in the package, and its absence leaves training off with a reason, nothing thrown', () => {
  const saved = process.env.ZHONGJING_TRAINER_ADDON;
  delete process.env.ZHONGJING_TRAINER_ADDON;
  try {
    assert.equal(trainerAddonPath('cpu'), join(root, 'native', 'build', 'cpu', 'zhongjing_trainer.node'), 'relative to the app, not a build machine');
    process.env.ZHONGJING_TRAINER_ADDON = join(root, 'no-such-dir', 'zhongjing_trainer.node');
    const cpu = {gpu: false} as unknown as Llama;
    const loaded = loadTrainer(cpu);
    assert.equal(loaded.ok, false, 'a missing addon is reported, not thrown');
    assert.match(loaded.ok ? '' : loaded.reason.en, /not built/, 'with the reason');
    const capabilities = trainingCapabilities(cpu, 2);
    assert.equal(capabilities.available, false, 'the training screen says training is unavailable');
    assert.ok(capabilities.reason?.zh, 'in Chinese too');
  } finally {
    if (saved === undefined) delete process.env.ZHONGJING_TRAINER_ADDON;
    else process.env.ZHONGJING_TRAINER_ADDON = saved;
  }
});

test('the packaging hook keeps only $ORIGIN rpath entries, makes build-info relative, and refuses a package without the libraries', {skip: !(process.platform === 'linux' && existsSync(builtAddon)) && 'needs the built linux addon'}, () => {
  const tmp = tempDir('zhongjing-hook-');
  try {
    const unpacked = join(tmp.path, 'resources', 'app.asar.unpacked');
    const variantDir = join(unpacked, 'native', 'build', 'cpu');
    mkdirSync(variantDir, {recursive: true});
    const addon = join(variantDir, 'zhongjing_trainer.node');
    copyFileSync(builtAddon, addon);
    const runpath = readRunpath(addon);
    assert.ok(runpath?.value.includes('$ORIGIN/'), `the built addon has an $ORIGIN entry (${runpath?.value})`);
    writeFileSync(join(variantDir, 'build-info.json'), JSON.stringify({variant: 'cpu', binsDir: '/build/machine/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64'}));

    assert.throws(() => fixTrainerAddons(unpacked, 'linux'), /does not contain/, 'no libraries at the rpath: the build fails');
    const libDir = resolve(variantDir, runpath!.value.split(':')[0]!.replace('$ORIGIN', '.'));
    mkdirSync(libDir, {recursive: true});
    const done = fixTrainerAddons(unpacked, 'linux');
    assert.equal(done.length, 1, 'one addon fixed');
    const after = readRunpath(addon)!.value;
    assert.deepEqual(after.split(':').filter((e) => !e.startsWith('$ORIGIN')), [], `only $ORIGIN entries remain (${after})`);
    assert.equal(after, runpath!.value.split(':').filter((e) => e.startsWith('$ORIGIN')).join(':'), 'the $ORIGIN entries are kept as they were');
    assert.equal(keepOriginEntries(addon), after, 'idempotent');
    assert.equal(readFileSync(addon).length, readFileSync(builtAddon).length, 'rewritten in place');
    const info = JSON.parse(readFileSync(join(variantDir, 'build-info.json'), 'utf8')) as {binsDir: string};
    assert.equal(info.binsDir, '../../../node_modules/@node-llama-cpp/linux-x64/bins/linux-x64', 'binsDir relative to the addon');
  } finally {
    tmp.cleanup();
  }
});
