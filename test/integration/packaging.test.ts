// The installable app's layout: electron-builder's `dir` target for linux x64, assembled offline
// with a stand-in Electron distribution (a fake `electron` executable: no Electron binary can be
// downloaded in CI) and npmRebuild=false (better-sqlite3 stays built for Node's ABI). What it checks
// is the tree every installer (AppImage, deb) is made from: what ships, where, and how big.
//
// Only a real Electron run can check: that the window opens and the app:// renderer loads from
// app.asar, that better-sqlite3 rebuilt for Electron's ABI (npm run dist → install-app-deps) loads
// in Electron's main process, that node-llama-cpp finds its binaries through Electron's asar
// redirection, and that a training job forked from the packaged app starts. Here the addon and
// better-sqlite3 are loaded from the packaged tree under Node (the addon is N-API, so its ABI is
// the same; better-sqlite3 is Node's build because npmRebuild is off), and the packaged CLI chats
// with a tiny model through the packaged node-llama-cpp.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import {chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {join, relative, resolve, sep} from 'node:path';
import {tempDir} from '../helpers/tmp.js';

const require = createRequire(import.meta.url);
const asar = require('@electron/asar') as {
  listPackage(archive: string): string[];
  statFile(archive: string, file: string): {unpacked?: boolean};
  extractAll(archive: string, dest: string): void;
};
const {readRunpath} = require('../../scripts/elf-runpath.cjs') as {readRunpath(file: string): {value: string} | null};

const root = resolve(import.meta.dirname, '..', '..');
const builtAddon = join(root, 'native', 'build', 'cpu', 'zhongjing_trainer.node');
/** resources/ (our app: app.asar + app.asar.unpacked) without Electron itself (~250 MB more in a
 * real package). Measured 44 MB for the CPU package; 741 MB before node-llama-cpp's foreign and
 * GPU binaries were left out. */
const RESOURCES_BUDGET_BYTES = 64 * 1024 * 1024;
const EM_X86_64 = 0x3e;

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, {withFileTypes: true})) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** A stand-in for node_modules/electron/dist: what electron-builder copies and renames. */
function fakeElectron(dir: string, version: string): void {
  mkdirSync(join(dir, 'resources'), {recursive: true});
  mkdirSync(join(dir, 'locales'), {recursive: true});
  writeFileSync(join(dir, 'electron'), '#!/bin/sh\necho "stand-in Electron: the packaging test only assembles the tree" >&2\nexit 1\n');
  chmodSync(join(dir, 'electron'), 0o755);
  writeFileSync(join(dir, 'LICENSE'), 'stand-in\n');
  writeFileSync(join(dir, 'LICENSES.chromium.html'), '<p>stand-in</p>\n');
  writeFileSync(join(dir, 'version'), `${version}\n`);
}

function elfMachine(file: string): number | null {
  const head = readFileSync(file).subarray(0, 20);
  if (head.length < 20 || head.readUInt32BE(0) !== 0x7f454c46) return null;
  return head.readUInt16LE(18);
}

const linuxX64 = process.platform === 'linux' && process.arch === 'x64';

test('electron-builder --dir (linux x64, CPU package): the tree ships what the target needs and nothing else', {skip: !linuxX64 && 'packages for linux x64 only are assembled here', timeout: 180_000}, (t) => {
  for (const built of ['dist/main/electron/main.js', 'dist/main/electron/preload.cjs', 'dist/renderer/index.html', 'native/build/cpu/zhongjing_trainer.node']) {
    assert.ok(existsSync(join(root, built)), `${built} is missing: run npm run build first`);
  }
  const tmp = tempDir('zhongjing-packaging-');
  try {
    const electronVersion = (JSON.parse(readFileSync(join(root, 'node_modules', 'electron', 'package.json'), 'utf8')) as {version: string}).version;
    const electronDist = join(tmp.path, 'electron-dist');
    fakeElectron(electronDist, electronVersion);
    const output = join(tmp.path, 'release');
    const started = performance.now();
    const build = spawnSync(
      process.execPath,
      [join(root, 'node_modules', 'electron-builder', 'cli.js'), '--linux', 'dir', '--x64', '--publish', 'never',
        `-c.electronDist=${electronDist}`, '-c.npmRebuild=false', `-c.directories.output=${output}`],
      {cwd: root, encoding: 'utf8', env: {...process.env, ELECTRON_BUILDER_CACHE: join(tmp.path, 'cache'), CSC_IDENTITY_AUTO_DISCOVERY: 'false'}},
    );
    const seconds = (performance.now() - started) / 1000;
    assert.equal(build.status, 0, `electron-builder failed:\n${build.stdout}\n${build.stderr}`);
    assert.doesNotMatch(build.stdout + build.stderr, /author is missed|default Electron icon/, 'package.json names an author; the icons are ours');
    assert.ok(seconds < 90, `electron-builder --dir took ${seconds.toFixed(0)} s (no compression is involved: something new is being copied or rebuilt)`);

    const appDir = join(output, 'linux-unpacked');
    assert.ok(existsSync(join(appDir, 'zhongjing')), 'the executable is named zhongjing');
    const resources = join(appDir, 'resources');
    const archive = join(resources, 'app.asar');
    const unpacked = join(resources, 'app.asar.unpacked');
    const inAsar = asar.listPackage(archive).map((f) => f.replace(/\\/g, '/').replace(/^\//, ''));
    const unpackedFiles = filesUnder(unpacked).map((f) => relative(unpacked, f).split(sep).join('/'));

    // our bundles, in the archive
    for (const file of ['package.json', 'dist/main/electron/main.js', 'dist/main/electron/preload.cjs', 'dist/main/node/services/index.js',
      'dist/main/node/engine/engine-process.js', 'dist/main/node/training/job-process.js', 'dist/renderer/index.html']) {
      assert.ok(inAsar.includes(file), `${file} is in app.asar`);
      assert.ok(!asar.statFile(archive, file).unpacked, `${file} is read from the archive, not unpacked`);
    }
    assert.ok(inAsar.some((f) => /^dist\/renderer\/assets\/.+\.js$/.test(f)), 'the renderer bundle is in app.asar');
    const ourFiles = inAsar.filter((f) => f !== 'node_modules' && !f.startsWith('node_modules/'));
    assert.deepEqual(ourFiles.filter((f) => !/^(dist|native)(\/|$)/.test(f) && f !== 'package.json'), [], 'nothing but dist/, the addon and package.json of ours');

    // native code only in app.asar.unpacked, and only this target's
    assert.ok(unpackedFiles.includes('native/build/cpu/zhongjing_trainer.node'), 'the trainer addon is unpacked');
    assert.ok(unpackedFiles.includes('node_modules/better-sqlite3/build/Release/better_sqlite3.node'), 'better-sqlite3 is unpacked');
    assert.ok(unpackedFiles.includes('node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/llama-addon.node'), "node-llama-cpp's linux-x64 addon is unpacked");
    const nodePackages = readdirSync(join(unpacked, 'node_modules', '@node-llama-cpp'));
    assert.deepEqual(nodePackages, ['linux-x64'], 'only the linux-x64 CPU build of node-llama-cpp (no arm, no CUDA, no Vulkan)');
    assert.deepEqual(inAsar.filter((f) => /^node_modules\/@node-llama-cpp\/(?!linux-x64(\/|$))/.test(f)), [], 'no other @node-llama-cpp package in the archive either');
    const all = [...inAsar, ...unpackedFiles];
    assert.deepEqual(all.filter((f) => /\.(node|so(\.\d+)*|dll|dylib|exe)$/.test(f) && !unpackedFiles.includes(f) && asar.statFile(archive, f).unpacked !== true), [], 'every native binary is unpacked');
    assert.deepEqual(all.filter((f) => /\.(dll|dylib|exe|metal)$/.test(f)), [], 'no Windows or macOS binaries');
    assert.deepEqual(all.filter((f) => /cuda|vulkan|cublas|cudart/i.test(f.split('/').pop()!) && !f.endsWith('.moved.txt')), [], 'no GPU runtime in the CPU package');
    const foreign = filesUnder(unpacked).filter((f) => {
      const machine = elfMachine(f);
      return machine !== null && machine !== EM_X86_64;
    });
    assert.deepEqual(foreign.map((f) => relative(unpacked, f)), [], 'every ELF file is x86-64');

    // no source maps, no sources, no test fixtures, no llama.cpp source bundle
    assert.deepEqual(all.filter((f) => f.endsWith('.map')), [], 'no source maps');
    assert.deepEqual(all.filter((f) => /(^|\/)(test|tests|__tests__|__mocks__|fixtures)\//.test(f) || /\.gguf$/.test(f)), [], 'no tests or fixtures');
    assert.ok(!all.some((f) => f.endsWith('gitRelease.bundle')), "no llama.cpp source bundle (the app never compiles llama.cpp)");
    assert.ok(!all.some((f) => f.startsWith('node_modules/better-sqlite3/deps/')), 'no SQLite sources');

    // paths relative to the app: the addon finds libggml through $ORIGIN, in the package
    const addonPath = join(unpacked, 'native', 'build', 'cpu', 'zhongjing_trainer.node');
    for (const file of filesUnder(unpacked).filter((f) => elfMachine(f) !== null)) {
      const runpath = readRunpath(file);
      for (const entry of runpath?.value.split(':').filter(Boolean) ?? []) {
        assert.match(entry, /^\$(ORIGIN|\{ORIGIN\})/, `${relative(unpacked, file)} searches ${entry}: only $ORIGIN-relative paths ship`);
      }
    }
    const addonRunpath = readRunpath(addonPath)!.value;
    const libDir = resolve(join(addonPath, '..'), addonRunpath.replace(/^\$ORIGIN/, '.'));
    assert.equal(relative(unpacked, libDir).split(sep).join('/'), 'node_modules/@node-llama-cpp/linux-x64/bins/linux-x64', 'the rpath leads into the package');
    const readelf = spawnSync('readelf', ['-d', addonPath], {encoding: 'utf8'});
    if (readelf.status === 0) {
      const needed = [...readelf.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[(.+?)\]/g)].map((m) => m[1]!);
      for (const lib of needed.filter((n) => n.startsWith('libggml'))) assert.ok(existsSync(join(libDir, lib)), `${lib} is beside the rpath's target`);
      assert.match(readelf.stdout, /R(UN)?PATH.*\[\$ORIGIN\/[^:\]]+\]/, 'readelf sees one $ORIGIN-relative search path');
    }
    // An addon built by scripts/build-native.js since it links with an $ORIGIN-only rpath and
    // -ffile-prefix-map names no path of the build machine at all; one built before (its rpath in
    // native/build still has the absolute entry that the hook stripped here) is only reported.
    const builtBefore = (readRunpath(builtAddon)?.value ?? '').split(':').some((entry) => entry.startsWith('/'));
    const addonBytes = readFileSync(addonPath);
    for (const buildPath of [`${root}/node_modules/`, `${root}/native/`]) {
      if (builtBefore) t.diagnostic(`native/build/cpu was built before build paths were left out; rebuild with npm run build to check ${buildPath}`);
      else assert.ok(!addonBytes.includes(buildPath), `the packaged addon names no build machine path (${buildPath}…)`);
    }
    const info = JSON.parse(readFileSync(join(unpacked, 'native', 'build', 'cpu', 'build-info.json'), 'utf8')) as {binsDir: string | null};
    assert.ok(!info.binsDir?.startsWith('/'), `build-info.json has no build machine path (${info.binsDir})`);
    assert.ok(!readFileSync(join(unpacked, 'native', 'build', 'cpu', 'build-info.json'), 'utf8').includes(root), 'build-info.json does not name the checkout');

    // load the packaged addon and better-sqlite3 under Node, in a fresh process
    const probe = spawnSync(process.execPath, ['-e', `
      const {readFileSync} = require('node:fs');
      const unpacked = ${JSON.stringify(unpacked)};
      const addon = require(unpacked + '/native/build/cpu/zhongjing_trainer.node');
      const ggml = readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/)[5]).filter((p) => p && /libggml/.test(p));
      const Database = require(unpacked + '/node_modules/better-sqlite3/lib/index.js');
      const db = new Database(':memory:', {nativeBinding: unpacked + '/node_modules/better-sqlite3/build/Release/better_sqlite3.node'});
      const sqlite = db.prepare('SELECT sqlite_version() AS v').get().v;
      db.close();
      process.stdout.write(JSON.stringify({variant: addon.build.variant, ggml: [...new Set(ggml)], sqlite}));
    `], {cwd: tmp.path, encoding: 'utf8', env: {...process.env, NODE_PATH: ''}});
    assert.equal(probe.status, 0, `loading from the package failed:\n${probe.stderr}`);
    const loaded = JSON.parse(probe.stdout) as {variant: string; ggml: string[]; sqlite: string};
    assert.equal(loaded.variant, 'cpu', 'the packaged trainer addon loads');
    assert.ok(loaded.ggml.length >= 2, `libggml is mapped (${loaded.ggml.join(', ')})`);
    for (const lib of loaded.ggml) assert.ok(lib.startsWith(unpacked + sep), `${lib} comes from the package, not the checkout`);
    assert.match(loaded.sqlite, /^3\.\d+/, 'the packaged better-sqlite3 opens a database');

    // the packaged JavaScript and node_modules are complete: the CLI from the packaged tree (app.asar
    // extracted, app.asar.unpacked laid over it) writes a model and chats with node-llama-cpp's
    // packaged linux-x64 binaries
    const extracted = join(tmp.path, 'extracted');
    asar.extractAll(archive, extracted);
    cpSync(unpacked, extracted, {recursive: true});
    const cli = join(extracted, 'dist', 'main', 'cli', 'run.js');
    const env = {...process.env, ZHONGJING_DATA_DIR: join(tmp.path, 'data'), ZHONGJING_THREADS: '1', NODE_PATH: ''};
    const model = join(tmp.path, 'tiny.gguf');
    const make = spawnSync(process.execPath, [cli, 'models', 'make-tiny', model], {cwd: tmp.path, encoding: 'utf8', env});
    assert.equal(make.status, 0, `make-tiny from the package: ${make.stderr}`);
    const chat = spawnSync(process.execPath, [cli, 'chat', '--model', model, '--max-tokens', '4', '--seed', '1', '--json', '头痛三天'], {cwd: tmp.path, encoding: 'utf8', env, timeout: 60_000});
    assert.equal(chat.status, 0, `chat from the package: ${chat.stderr}`);
    assert.match(chat.stdout, /"type":"done"/, 'a reply from the packaged engine');

    // the update feed for an artifact of this tree (a tar stands in for the AppImage, which needs
    // tools electron-builder downloads): electron-updater's fields, sha512 and size of the file
    const artifact = join(output, 'Zhongjing-test-cpu-x64.tar');
    const tar = spawnSync('tar', ['-cf', artifact, '-C', output, 'linux-unpacked'], {encoding: 'utf8'});
    assert.equal(tar.status, 0, `tar: ${tar.stderr}`);
    const feed = spawnSync(process.execPath, [join(root, 'scripts', 'update-feed.cjs'), 'write', artifact, '--version', '0.0.1-test'], {encoding: 'utf8'});
    assert.equal(feed.status, 0, `update-feed write: ${feed.stderr}`);
    const feedText = readFileSync(join(output, 'latest-linux.yml'), 'utf8');
    const sha512 = createHash('sha512').update(readFileSync(artifact)).digest('base64');
    assert.ok(feedText.includes(`sha512: ${sha512}`), 'the feed carries the artifact\'s sha512');
    assert.ok(feedText.includes(`size: ${lstatSync(artifact).size}`), 'and its size');
    const verify = spawnSync(process.execPath, [join(root, 'scripts', 'update-feed.cjs'), 'verify', output], {encoding: 'utf8'});
    assert.equal(verify.status, 0, `update-feed verify: ${verify.stdout}${verify.stderr}`);

    // the size budget
    let bytes = 0;
    for (const file of filesUnder(resources)) bytes += lstatSync(file).size;
    assert.ok(bytes < RESOURCES_BUDGET_BYTES, `resources/ is ${(bytes / 2 ** 20).toFixed(1)} MiB, over the budget of ${RESOURCES_BUDGET_BYTES / 2 ** 20} MiB`);
  } finally {
    tmp.cleanup();
  }
});
