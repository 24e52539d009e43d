// The one path policy, through a real `zhongjing serve`: typed paths are held to the data
// directory and the allowed folders, reads take regular files only, writes refuse existing
// targets unless asked to overwrite, and exports reach the browser as downloads. Plus the
// unconfined policy (CLI, desktop app) on the cases that used to hang or overwrite.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {startServe} from '../helpers/cli.js';
import {tinyModelPath} from '../helpers/tiny-model.js';
import {tempDir} from '../helpers/tmp.js';
import {readablePath, unconfined, writableFile, writableFolder} from '../../main/node/path-policy.js';
import {AppError} from '../../main/common/errors.js';

type Envelope = {ok: true; result: any} | {ok: false; error: {code: string; message: {zh: string; en: string}}};

test('serve holds typed paths to the data directory and the allowed folders; exports come back as downloads', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const data = join(dir.path, 'data');
  const outside = join(dir.path, 'outside');
  mkdirSync(outside);
  const serve = await startServe(['--data-dir', data]);
  t.after(() => serve.stop());
  const call = async (method: string, input: unknown): Promise<Envelope> => {
    const started = performance.now();
    const response = await fetch(`${serve.base}/api/${method}`, {method: 'POST', headers: {Authorization: `Bearer ${serve.token}`}, body: JSON.stringify(input)});
    const envelope = (await response.json()) as Envelope;
    assert.ok(performance.now() - started < 5000, `${method} answered within 5 s`);
    return envelope;
  };
  const code = (e: Envelope) => (e.ok ? 'ok' : e.error.code);

  const info = (await call('app.info', {})) as {ok: true; result: {pathsConfined: boolean; allowedRoots: string[]}};
  assert.equal(info.result.pathsConfined, true);

  // a model outside: refused, saying where paths may be and how to allow more
  const model = await tinyModelPath();
  const refused = await call('models.add', {path: model});
  assert.equal(code(refused), 'path_denied');
  assert.ok(!refused.ok && /允许访问的文件夹/.test(refused.error.message.zh) && /--allow-dir/.test(refused.error.message.en), JSON.stringify(refused));
  assert.equal(code(await call('datasets.import', {path: '/etc/passwd'})), 'path_denied', '/etc/passwd is not imported');
  assert.equal(code(await call('annotation.import', {paths: ['/etc/hostname']})), 'path_denied');
  assert.equal(code(await call('annotation.export', {projectId: 'x', format: 'ranking', outPath: '/proc/self/w/x.jsonl'})), 'not_found', 'an unknown project is named first');

  // allowing folders: checked, then in force
  assert.equal(code(await call('settings.update', {allowedFolders: ['/']})), 'validation', 'not the whole system');
  assert.equal(code(await call('settings.update', {allowedFolders: ['/proc']})), 'validation');
  assert.equal(code(await call('settings.update', {allowedFolders: [join(dir.path, 'nope')]})), 'not_found');
  assert.equal(code(await call('settings.update', {allowedFolders: ['relative/dir']})), 'validation');
  assert.equal(code(await call('settings.update', {allowedFolders: [dirname(model), outside]})), 'ok');
  const added = await call('models.add', {path: model});
  assert.equal(code(added), 'ok');
  const modelId = (added as {ok: true; result: {id: string}}).result.id;

  // reads: regular files only, NUL refused, all answered at once
  execFileSync('mkfifo', [join(outside, 'pipe.jsonl')]);
  const fifo = await call('datasets.import', {path: join(outside, 'pipe.jsonl')});
  assert.equal(code(fifo), 'validation');
  assert.ok(!fifo.ok && /FIFO/.test(fifo.error.message.en), JSON.stringify(fifo));
  assert.equal(code(await call('annotation.import', {paths: [join(outside, 'pipe.jsonl'), join(outside, 'pipe.jsonl'), join(outside, 'pipe.jsonl'), join(outside, 'pipe.jsonl'), join(outside, 'pipe.jsonl')]})), 'validation', 'five reads of a pipe do not block the workers');
  assert.equal(code(await call('datasets.import', {path: `${outside}/a\0b.jsonl`})), 'validation');
  const missing = await call('annotation.import', {paths: [join(outside, 'missing.jsonl')]});
  assert.equal(code(missing), 'not_found', 'the same code as datasets.import, not internal ENOENT');
  // a link inside an allowed folder does not lead out of it
  execFileSync('ln', ['-s', '/etc/passwd', join(outside, 'passwd.jsonl')]);
  assert.equal(code(await call('datasets.import', {path: join(outside, 'passwd.jsonl')})), 'path_denied');

  // a dataset to export; writes refuse existing targets unless asked
  const file = join(outside, 'd.jsonl');
  writeFileSync(file, JSON.stringify({query: '头痛怎么办？', response: '注意休息。'}));
  const imported = await call('datasets.import', {path: file, name: 'paths'});
  assert.equal(code(imported), 'ok');
  for (let i = 0; i < 200; i++) {
    const list = (await call('datasets.list', {})) as {ok: true; result: {id: string; name: string}[]};
    if (list.result.some((d) => d.name === 'paths')) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  const datasetId = ((await call('datasets.list', {})) as {ok: true; result: {id: string; name: string}[]}).result.find((d) => d.name === 'paths')!.id;
  assert.equal(code(await call('datasets.export', {id: datasetId, format: 'sharegpt', outDir: '/proc/self/w'})), 'path_denied', 'refused at once, no mkdir loop');
  assert.equal(code(await call('datasets.export', {id: datasetId, format: 'sharegpt', outDir: '/tmp/zhongjing-not-allowed'})), 'path_denied');
  const target = join(outside, 'export');
  assert.equal(code(await call('datasets.export', {id: datasetId, format: 'sharegpt', outDir: target})), 'ok');
  const again = await call('datasets.export', {id: datasetId, format: 'sharegpt', outDir: target});
  assert.equal(code(again), 'file_exists');
  assert.ok(!again.ok && /覆盖/.test(again.error.message.zh), JSON.stringify(again));
  assert.equal(code(await call('datasets.export', {id: datasetId, format: 'sharegpt', outDir: target, overwrite: true})), 'ok');

  // the default export lands in <data>/exports and comes back as a download; nothing else does
  const exported = (await call('datasets.export', {id: datasetId, format: 'sharegpt'})) as {ok: true; result: {dir: string; files: string[]}};
  assert.ok(exported.result.dir.startsWith(join(data, 'exports')));
  const download = (await call('exports.read', {path: exported.result.files[0]!})) as {ok: true; result: {fileName: string; content: string}};
  assert.ok(download.ok, JSON.stringify(download));
  assert.equal(download.result.content, readFileSync(exported.result.files[0]!, 'utf8'));
  assert.equal(code(await call('exports.read', {path: join(data, 'zhongjing.sqlite')})), 'path_denied', 'the store is not an export');
  assert.equal(code(await call('exports.read', {path: join(outside, 'd.jsonl')})), 'path_denied');

  // an annotation export over an existing file, and onto a device
  const project = await call('annotation.createProject', {name: '路径', datasetId, generation: {modelId}});
  assert.equal(code(project), 'ok');
  const projectId = (project as {ok: true; result: {id: string}}).result.id;
  writeFileSync(join(outside, 'taken.jsonl'), 'keep me');
  assert.equal(code(await call('annotation.export', {projectId, format: 'ranking', outPath: join(outside, 'taken.jsonl')})), 'file_exists');
  assert.equal(readFileSync(join(outside, 'taken.jsonl'), 'utf8'), 'keep me', 'nothing was overwritten');
  assert.equal(code(await call('annotation.export', {projectId, format: 'ranking', outPath: join(outside, 'taken.jsonl'), overwrite: true})), 'ok');
  const first = (await call('annotation.export', {projectId, format: 'ranking'})) as {ok: true; result: {path: string}};
  assert.ok(first.result.path.startsWith(join(data, 'exports')), 'the default name is in the exports folder');
  // files from the browser arrive as uploads, whatever name they claim
  const pairs = [JSON.stringify({question: '头痛怎么办？', response_chosen: '请问头痛多久了？有没有发热？', response_rejected: '吃止痛药。'})].join('\n');
  const uploaded = await call('annotation.import', {files: [{fileName: '../../../etc/偏好对.jsonl', content: pairs}]});
  assert.equal(code(uploaded), 'ok', JSON.stringify(uploaded));
  assert.equal((uploaded as {ok: true; result: {itemsAdded: number}}).result.itemsAdded, 1);
  assert.equal(code(await call('annotation.import', {files: [{fileName: 'x.jsonl', content: pairs}], paths: ['/tmp/x']})), 'validation', 'paths or files, not both');
  // the server still answers
  assert.equal(code(await call('app.info', {})), 'ok');
});

test('unconfined (CLI, desktop): /proc, devices and existing files are still refused, quickly', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const refuses = async (work: Promise<unknown>, expected: string) => {
    const started = performance.now();
    await assert.rejects(work, (error: unknown) => error instanceof AppError && error.code === expected);
    assert.ok(performance.now() - started < 2000, 'refused at once');
  };
  await refuses(writableFile(unconfined, '/proc/self/w/x.jsonl'), 'validation');
  await refuses(writableFolder(unconfined, '/proc/self/w'), 'validation');
  await refuses(writableFile(unconfined, '/dev/null', {overwrite: true}), 'validation');
  await refuses(readablePath(unconfined, '/dev/zero'), 'validation');
  await refuses(readablePath(unconfined, '/proc/self/status'), 'validation');
  writeFileSync(join(dir.path, 'a.txt'), 'x');
  await refuses(writableFile(unconfined, join(dir.path, 'a.txt')), 'file_exists');
  assert.equal(await writableFile(unconfined, join(dir.path, 'a.txt'), {overwrite: true}), join(dir.path, 'a.txt'));
  assert.equal(await writableFile(unconfined, join(dir.path, 'new', 'deep', 'b.txt')), join(dir.path, 'new', 'deep', 'b.txt'), 'folders are made');
});
