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

function pngSize(file: string): [number, number] {
  const data = readFileSync(file);
  assert.equal(data.subarray(1, 4).toString('ascii'), 'PNG', `${file} is a PNG`);
  return [data.readUInt32BE(16), data.readUInt32BE(20)];
}

test('metadata and icons: an author, an icon per platform, a desktop entry with the Chinese and English names', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {author?: {name?: string; email?: string}; description?: string};
  assert.ok(pkg.author?.name && pkg.author.email, 'an author with an email (the deb maintainer field)');
  assert.ok(pkg.description, 'a description');
  for (const config of [load('electron-builder.yml'), load('electron-builder.cuda.yml')]) {
    const linux = config.linux as {icon: string; desktop: {entry: Record<string, string>}};
    for (const size of [16, 32, 48, 64, 128, 256, 512]) {
      assert.deepEqual(pngSize(join(root, linux.icon, `${size}x${size}.png`)), [size, size], `Linux icon ${size}×${size}`);
    }
    const entry = linux.desktop.entry;
    assert.match(entry['Name[zh_CN]'] ?? '', /仲景/, 'the Chinese name');
    assert.match(entry['Name[en]'] ?? '', /Zhongjing Workstation/, 'the English name');
    assert.match(entry.Name ?? '', /仲景.*Zhongjing/, 'both in the default Name');
    const ico = readFileSync(join(root, (config.win as {icon: string}).icon));
    assert.deepEqual([ico.readUInt16LE(0), ico.readUInt16LE(2)], [0, 1], 'a Windows .ico');
    const icoSizes = Array.from({length: ico.readUInt16LE(4)}, (_, i) => ico[6 + 16 * i] || 256);
    assert.ok(icoSizes.includes(256) && icoSizes.includes(16), `the .ico holds 16…256 (${icoSizes.join(', ')})`);
    const icns = readFileSync(join(root, (config.mac as {icon: string}).icon));
    assert.equal(icns.subarray(0, 4).toString('ascii'), 'icns', 'a macOS .icns');
    assert.equal(icns.readUInt32BE(4), icns.length, 'whose length is its own');
    assert.ok(icns.includes(Buffer.from('ic09')) && icns.includes(Buffer.from('ic10')), 'with 512 and 1024 images');
  }
  assert.deepEqual(pngSize(join(root, 'resources', 'icon.png')), [512, 512], 'the 512×512 fallback icon');
});
