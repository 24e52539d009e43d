#!/usr/bin/env node
// Builds the native trainer addon (native/) offline.
//
//   node scripts/build-native.js [--variant auto|cpu|cuda|vulkan|all] [--jobs N] [--debug] [--quiet]
//
// 1. Clones node-llama-cpp's bundled llama.cpp source (llama/gitRelease.bundle, tag in
//    llama/llama.cpp.info.json) into native/build/llama.cpp, once per tag: its include/ and
//    ggml/include/ headers match node-llama-cpp's prebuilt libraries exactly.
// 2. For each variant, configures and builds native/CMakeLists.txt into native/build/<variant>/,
//    linking to the prebuilt libggml of THAT variant (the CUDA/Vulkan packages rename libggml but
//    keep libggml-base), so the addon shares one ggml with node-llama-cpp in the same process.
//    The result is native/build/<variant>/zhongjing_trainer.node plus a build-info.json beside it,
//    and zhongjing_bench.node (llama.cpp's own llama_opt training, for bench/train-throughput.ts).
//
// Offline by construction: no header download (system Node headers, N-API only), no npm install.
// `auto` builds cpu, plus cuda when node-llama-cpp's CUDA package is installed and an NVIDIA driver
// is present (/proc/driver/nvidia); `all` builds every installed variant. At run time the loader
// picks the variant node-llama-cpp itself chose. A failure exits non-zero with the reason; the app
// keeps working without the addon (main/node/training/native.ts says why training is unavailable).
import {spawnSync} from 'node:child_process';
import {existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {availableParallelism} from 'node:os';
import {dirname, join, relative, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] && !args[i + 1].startsWith('--') ? args[i + 1] : fallback;
};
const flag = (name) => args.includes(`--${name}`);
const quiet = flag('quiet');
const log = (...m) => quiet || console.log('[build-native]', ...m);

function fail(message) {
  console.error(`[build-native] ${message}`);
  process.exit(1);
}

function run(cmd, cmdArgs, opts = {}) {
  const result = spawnSync(cmd, cmdArgs, {stdio: quiet ? 'pipe' : 'inherit', encoding: 'utf8', ...opts});
  if (result.error) fail(`${cmd} could not start: ${result.error.message}`);
  if (result.status !== 0) fail(`${cmd} ${cmdArgs.join(' ')} failed (exit ${result.status})\n${result.stderr ?? ''}`);
  return result;
}

const nlcDir = join(root, 'node_modules', 'node-llama-cpp');
if (!existsSync(nlcDir)) fail('node-llama-cpp is not installed (node_modules/node-llama-cpp)');
const nlcVersion = JSON.parse(readFileSync(join(nlcDir, 'package.json'), 'utf8')).version;
const info = JSON.parse(readFileSync(join(nlcDir, 'llama', 'llama.cpp.info.json'), 'utf8'));
const tag = info.tag;

// Node's own headers: node_api.h ships with every Node install (include/node beside bin/).
const nodeInclude = [resolve(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'].find((d) =>
  existsSync(join(d, 'node_api.h')),
);
if (!nodeInclude) fail('node_api.h not found (install the Node headers, e.g. Debian package libnode-dev / nodejs)');

const buildDir = join(root, 'native', 'build');
const llamaDir = join(buildDir, 'llama.cpp');
const stampPath = join(buildDir, 'llama.cpp.tag');
const started = performance.now();

// 1. headers, once per llama.cpp tag
if (!existsSync(stampPath) || readFileSync(stampPath, 'utf8').trim() !== tag || !existsSync(join(llamaDir, 'ggml', 'include', 'ggml.h'))) {
  const bundle = join(nlcDir, 'llama', 'gitRelease.bundle');
  if (!existsSync(bundle)) fail(`${bundle} is missing`);
  rmSync(llamaDir, {recursive: true, force: true});
  mkdirSync(buildDir, {recursive: true});
  log(`cloning llama.cpp ${tag} headers from node-llama-cpp's bundle`);
  run('git', ['clone', '--quiet', '--no-checkout', bundle, llamaDir]);
  // only the headers are needed; a sparse checkout keeps the cache small and fast
  run('git', ['-C', llamaDir, 'sparse-checkout', 'set', '--no-cone', '/include/', '/ggml/include/']);
  run('git', ['-C', llamaDir, '-c', 'advice.detachedHead=false', 'checkout', '--quiet', 'HEAD']);
  writeFileSync(stampPath, `${tag}\n`);
}

// 2. variants
const platform = `${process.platform}-${process.arch}`;
const variantPackages = {cpu: platform, cuda: `${platform}-cuda`, vulkan: `${platform}-vulkan`};
function binsDir(variant) {
  const dir = join(root, 'node_modules', '@node-llama-cpp', variantPackages[variant], 'bins', variantPackages[variant]);
  return existsSync(dir) ? dir : null;
}
const requested = option('variant', 'auto');
let variants;
if (requested === 'auto') variants = ['cpu', ...(binsDir('cuda') && existsSync('/proc/driver/nvidia') ? ['cuda'] : [])];
else if (requested === 'all') variants = Object.keys(variantPackages).filter((v) => binsDir(v));
else variants = [requested];

const jobs = Number(option('jobs', String(Math.min(2, availableParallelism()))));
const buildType = flag('debug') ? 'Debug' : 'Release';

for (const variant of variants) {
  if (!variantPackages[variant]) fail(`unknown variant ${variant} (cpu | cuda | vulkan)`);
  const bins = binsDir(variant);
  if (!bins) fail(`node-llama-cpp has no prebuilt ${variant} binaries for ${platform} (@node-llama-cpp/${variantPackages[variant]})`);
  const ggmlLib = readdirSync(bins).find((f) => /^libggml\.([a-z]+\.)?v[\d.]+\.so$/.test(f) || f === 'libggml.so');
  if (!ggmlLib || !existsSync(join(bins, 'libggml-base.so'))) fail(`no libggml / libggml-base in ${bins}`);
  // libllama only for the benchmark addon (llama.cpp's own training path, for comparison)
  const llamaLib = readdirSync(bins).find((f) => /^libllama\.([a-z]+\.)?v[\d.]+\.so$/.test(f) || f === 'libllama.so') ?? '';
  const outDir = join(buildDir, variant);
  mkdirSync(outDir, {recursive: true});
  // $ORIGIN-relative only: native/build/<variant>/ → node_modules/@node-llama-cpp/<pkg>/bins/<pkg>
  // holds both in this checkout and in the packaged app (app.asar.unpacked), and no build
  // machine's absolute path ends up in the addon (the packaging hook also strips one).
  const rpath = `$ORIGIN/${relative(outDir, bins)}`;
  log(`variant ${variant}: linking ${ggmlLib} + libggml-base.so from ${relative(root, bins)}`);
  const t0 = performance.now();
  run('cmake', [
    '-S', join(root, 'native'),
    '-B', outDir,
    `-DCMAKE_BUILD_TYPE=${buildType}`,
    `-DZJ_NODE_INCLUDE=${nodeInclude}`,
    `-DZJ_LLAMA_DIR=${llamaDir}`,
    `-DZJ_BINS_DIR=${bins}`,
    `-DZJ_GGML_LIB=${ggmlLib}`,
    `-DZJ_VARIANT=${variant}`,
    `-DZJ_RPATH=${rpath}`,
    `-DZJ_LLAMA_LIB=${llamaLib}`,
    '-DCMAKE_LIBRARY_OUTPUT_DIRECTORY=' + outDir,
    ...(quiet ? ['--log-level=WARNING'] : []),
  ]);
  run('cmake', ['--build', outDir, '--parallel', String(jobs)]);
  const addon = join(outDir, 'zhongjing_trainer.node');
  if (!existsSync(addon)) fail(`the build finished but ${addon} is missing`);
  writeFileSync(
    join(outDir, 'build-info.json'),
    JSON.stringify({variant, llamaCppTag: tag, nodeLlamaCppVersion: nlcVersion, binsDir: relative(outDir, bins), ggmlLib, buildType, builtAt: new Date().toISOString()}, null, 2) + '\n',
  );
  log(`variant ${variant}: built ${relative(root, addon)} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
