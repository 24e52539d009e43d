// The two package configurations: the CPU package (electron-builder.yml, the default) and the CUDA
// package (electron-builder.cuda.yml) differ only in what they are for.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {join, resolve} from 'node:path';

const require = createRequire(import.meta.url);
const yaml = require('js-yaml') as {load(text: string): unknown};
const root = resolve(import.meta.dirname, '..', '..');
type Config = Record<string, unknown> & {files: string[]; directories: {output: string}; artifactName: string; publish: {url: string}};
const load = (name: string) => yaml.load(readFileSync(join(root, name), 'utf8')) as Config;

test('the CPU package leaves out every other platform, architecture and GPU runtime', () => {
  const cpu = load('electron-builder.yml');
  assert.ok(cpu.files.includes('!node_modules/@node-llama-cpp/!(${os}-${arch}|${os}-${arch}-metal)/**'), 'only ${os}-${arch} of node-llama-cpp');
  assert.ok(!cpu.files.some((f) => /native\/build\/(\*|cuda|vulkan)/.test(f)), 'only the cpu trainer addon');
  assert.ok(cpu.files.includes('!**/*.map'), 'no source maps');
  assert.match(cpu.artifactName, /-cpu-/, 'named so that a person can tell the packages apart');
  assert.equal(cpu.afterPack, 'resources/package-hooks.cjs', 'the addon rpath is checked on every package');
});

test('the CUDA package is the CPU package plus the CUDA binaries, nothing else', () => {
  const cpu = load('electron-builder.yml');
  const cuda = load('electron-builder.cuda.yml');
  assert.match(cuda.artifactName, /-cuda-/, 'named for CUDA');
  assert.notEqual(cuda.directories.output, cpu.directories.output, 'its own output folder');
  const cudaOnly = cuda.files.filter((f) => !cpu.files.includes(f));
  const cpuOnly = cpu.files.filter((f) => !cuda.files.includes(f));
  assert.deepEqual(cpuOnly, ['!node_modules/@node-llama-cpp/!(${os}-${arch}|${os}-${arch}-metal)/**'], 'it drops only the CPU exclusion');
  assert.deepEqual(cudaOnly, [
    'native/build/cuda/zhongjing_trainer.node',
    'native/build/cuda/build-info.json',
    '!node_modules/@node-llama-cpp/!(${os}-${arch}|${os}-${arch}-cuda|${os}-${arch}-cuda-ext)/**',
  ], 'and adds the CUDA addon and node-llama-cpp CUDA packages');
  const rest = (c: Config) => {
    const {files: _f, directories: _d, artifactName: _a, publish: _p, ...others} = c;
    return others;
  };
  assert.deepEqual(rest(cuda), rest(cpu), 'every other setting is the same');
});
