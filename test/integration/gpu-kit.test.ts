// The GPU kit (bench/gpu/run.sh) end to end on the CPU, so it cannot rot between GPU loans: it
// clones llama.cpp from node-llama-cpp's bundle, builds ggml and the standalone benchmark with
// CMake, trains the smallest shape in two base types and prints the table. Also: the PyTorch
// reference uses the benchmark's shapes, and the addon builds against node-llama-cpp's prebuilt
// CUDA libraries (no GPU is needed to link). The GPU figures themselves need a GPU machine.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import {existsSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {tempDir} from '../helpers/tmp.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bundle = join(root, 'node_modules', 'node-llama-cpp', 'llama', 'gitRelease.bundle');
const has = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;

test('the GPU kit runs end to end on the CPU (tiny shape, F16 and Q8_0 bases, Q8_0 with gradient checkpointing)', {skip: !existsSync(bundle) || !has('cmake') || !has('python3') ? 'needs cmake, python3 and node-llama-cpp' : false}, (t) => {
  const out = tempDir();
  t.after(() => out.cleanup());
  const run = spawnSync('bash', [join(root, 'bench', 'gpu', 'run.sh'), '--cpu', '--explain', '--profile'], {encoding: 'utf8', env: {...process.env, OUT: out.path}, timeout: 900_000});
  assert.equal(run.status, 0, `${run.stderr}\n${run.stdout}`);
  const results = readFileSync(join(out.path, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
  assert.deepEqual(results.map((r) => [r.type, r.checkpointing]), [['f16', false], ['q8_0', false], ['q8_0', true]]);
  // gradient checkpointing recomputes each layer for its backward: the very same training
  assert.equal(results[2]!.loss_first, results[1]!.loss_first);
  assert.equal(results[2]!.loss_last, results[1]!.loss_last);
  for (const r of results) {
    assert.ok(r.tokens_per_s > 0, `tokens/s measured (${r.tokens_per_s})`);
    assert.ok(Number.isFinite(r.loss_first) && Number.isFinite(r.loss_last), 'finite losses');
    assert.ok(r.loss_first > Math.log(2048) - 1 && r.loss_first < Math.log(2048) + 1, `a random model starts near ln(vocab) (${r.loss_first})`);
    assert.ok(r.peak_rss_bytes > 0);
    assert.ok(r.explain.MUL_MAT, 'the op kinds the step ran are listed');
    assert.ok(Object.values(r.explain as Record<string, Record<string, number>>).every((backends) => Object.keys(backends).every((b) => b.startsWith('CPU'))), 'a CPU run runs everything on the CPU');
    // The backward through the frozen base is a matrix product with the dequantised, transposed
    // weight: no OUT_PROD takes an F16 or quantised operand (CUDA has no such kernel, and on the
    // CPU it dequantised the weight once per token).
    const profile = r.profile as {op: string; ms: number; calls: number}[];
    assert.ok(profile.length > 0 && profile.every((p) => p.ms >= 0 && p.calls > 0), 'a profile of the step');
    assert.deepEqual(profile.filter((p) => /^OUT_PROD .*\b(f16|q8_0)\b/.test(p.op)), [], 'no OUT_PROD on a low-precision weight');
    assert.ok(profile.some((p) => p.op.startsWith(`GET_ROWS ${r.type} `)), `the ${r.type} weights are dequantised for the backward`);
  }
  const table = readFileSync(join(out.path, 'table.txt'), 'utf8');
  assert.match(table, /tiny-ci\s+f16\s+\d/);
  assert.match(table, /tiny-ci\s+q8_0\s+\d/);
  assert.match(table, /tiny-ci\s+q8_0\+ckpt\s+\d/);
  t.diagnostic(table);

  // the PyTorch reference trains the shapes ours does
  const bench = join(root, 'bench', 'gpu', 'work', 'build-cpu', 'zhongjing-train-bench');
  const ours = JSON.parse(spawnSync(bench, ['--list-shapes'], {encoding: 'utf8'}).stdout) as Record<string, unknown[]>;
  const reference = JSON.parse(spawnSync('python3', [join(root, 'bench', 'gpu', 'peft_reference.py'), '--list-shapes'], {encoding: 'utf8'}).stdout) as Record<string, unknown[]>;
  assert.deepEqual(reference, ours);

  // BF16 transposed weights in the backward (what a GPU run uses) train like F32 ones
  const losses = (type: string) => {
    const r = spawnSync(bench, ['--shape', 'tiny-ci', '--type', 'q8_0', '--seq', '64', '--batch', '2', '--steps', '4', '--threads', '1', '--backward-type', type, '--model-dir', join(root, 'bench', 'gpu', 'work', 'models')], {encoding: 'utf8'});
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {loss_first: number; loss_last: number};
  };
  const f32 = losses('f32');
  const bf16 = losses('bf16');
  t.diagnostic(`loss after 4 steps: F32 backward ${f32.loss_last}, BF16 backward ${bf16.loss_last}`);
  assert.equal(bf16.loss_first, f32.loss_first, 'the same first forward');
  assert.ok(f32.loss_last < f32.loss_first, 'training lowers the loss');
  assert.ok(Math.abs(bf16.loss_last - f32.loss_last) < 1e-2 * (f32.loss_first - f32.loss_last) + 1e-3, 'BF16 backward follows the F32 one');
});

test('the trainer addon links against node-llama-cpp’s prebuilt CUDA libraries without a GPU', {skip: !existsSync(join(root, 'node_modules', '@node-llama-cpp', 'linux-x64-cuda')) || !has('cmake') ? 'the CUDA package of node-llama-cpp is not installed here' : false}, () => {
  const build = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.js'), '--variant', 'cuda', '--quiet'], {encoding: 'utf8', timeout: 600_000});
  assert.equal(build.status, 0, build.stderr);
  const addon = join(root, 'native', 'build', 'cuda', 'zhongjing_trainer.node');
  assert.ok(existsSync(addon));
  const info = JSON.parse(readFileSync(join(root, 'native', 'build', 'cuda', 'build-info.json'), 'utf8')) as {variant: string; ggmlLib: string};
  assert.equal(info.variant, 'cuda');
  assert.match(info.ggmlLib, /cuda/);
  // it needs node-llama-cpp's CUDA ggml, found through its relative rpath
  const ldd = spawnSync('ldd', [addon], {encoding: 'utf8'}).stdout;
  assert.match(ldd, /libggml\.cuda[^\n]*=> \/[^\n]*node-llama-cpp\/linux-x64-cuda/, ldd);
});
