// The import direction of ARCHITECTURE.md, checked rather than kept by convention:
//   common ← node ← serve / cli / electron, and the renderer sees only common.
// common imports nothing but itself (and zod); node never reaches up into serve, cli or electron
// (nor Electron itself); serve and cli never import electron; the renderer imports from main/
// only main/common.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {readdirSync, readFileSync, statSync} from 'node:fs';
import {dirname, join, relative, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files(path, out);
    else if (/\.(ts|svelte)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Every module specifier a file imports or re-exports (static and dynamic). */
function specifiers(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?\bfrom\s*['"]([^'"]+)['"]/g)) found.push(m[1]!);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) found.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1]!);
  return found;
}

/** The layer a resolved path is in (main/common, main/node …, renderer), or the package name. */
function layerOf(from: string, specifier: string): string {
  if (!specifier.startsWith('.')) return `pkg:${specifier.split('/')[0]}`;
  const target = relative(root, resolve(dirname(from), specifier));
  const [top, second] = target.split(/[\\/]/);
  return top === 'main' ? `main/${second}` : top!;
}

const RULES: {layer: string; dir: string; allowed: (layer: string) => boolean}[] = [
  {layer: 'main/common', dir: 'main/common', allowed: (l) => l === 'main/common' || l === 'pkg:zod'},
  {layer: 'main/node', dir: 'main/node', allowed: (l) => !['main/serve', 'main/cli', 'main/electron', 'renderer', 'pkg:electron'].includes(l)},
  {layer: 'main/serve', dir: 'main/serve', allowed: (l) => !['main/cli', 'main/electron', 'renderer', 'pkg:electron'].includes(l)},
  {layer: 'main/cli', dir: 'main/cli', allowed: (l) => !['main/electron', 'renderer', 'pkg:electron'].includes(l)},
  {layer: 'renderer', dir: 'renderer/src', allowed: (l) => !l.startsWith('main/') || l === 'main/common'},
];

for (const rule of RULES) {
  test(`imports go downwards: ${rule.layer}`, () => {
    const broken: string[] = [];
    const all = files(join(root, rule.dir));
    assert.ok(all.length > 0, `${rule.dir} has source files`);
    for (const file of all) {
      for (const spec of specifiers(file)) {
        const layer = layerOf(file, spec);
        if (!rule.allowed(layer)) broken.push(`${relative(root, file)} imports ${spec} (${layer})`);
      }
    }
    assert.deepEqual(broken, [], `${rule.layer} reaches a layer it must not:\n${broken.join('\n')}`);
  });
}

test('the checker sees a violation when there is one', () => {
  assert.equal(layerOf(join(root, 'main/common/x.ts'), '../node/paths.js'), 'main/node');
  assert.equal(RULES[0]!.allowed('main/node'), false);
  assert.deepEqual(specifiers(join(root, 'main/common/contract.ts')).filter((s) => !s.startsWith('.')), ['zod']);
});
