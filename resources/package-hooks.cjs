// electron-builder afterPack hook (electron-builder.yml: afterPack). Runs on the assembled tree
// before any installer is made, so AppImage, deb, NSIS and `dir` all get the same fixes:
//  - the trainer addon's rpath keeps only its $ORIGIN-relative entries (a build machine's absolute
//    node_modules path must not be searched on a hospital's computer), and each kept entry must
//    exist in the package: otherwise the build fails here rather than training failing there;
//  - build-info.json's binsDir becomes relative to the addon (the loader never reads it; it is
//    for people, and the build machine's path means nothing on the target).
'use strict';
const {existsSync, readdirSync, readFileSync, writeFileSync} = require('node:fs');
const {isAbsolute, join, relative, resolve, sep} = require('node:path');
const {keepOriginEntries} = require('../scripts/elf-runpath.cjs');

function resourcesDir(appOutDir, platform) {
  if (platform !== 'darwin' && platform !== 'mas') return join(appOutDir, 'resources');
  const app = readdirSync(appOutDir).find((name) => name.endsWith('.app'));
  return join(appOutDir, app, 'Contents', 'Resources');
}

/** Fixes the packaged trainer addons under `unpacked` (app.asar.unpacked); answers what it did. */
function fixTrainerAddons(unpacked, platform = process.platform) {
  const done = [];
  const buildDir = join(unpacked, 'native', 'build');
  if (!existsSync(buildDir)) return done;
  for (const variant of readdirSync(buildDir)) {
    const dir = join(buildDir, variant);
    const addon = join(dir, 'zhongjing_trainer.node');
    if (platform === 'linux' && existsSync(addon)) {
      const runpath = keepOriginEntries(addon);
      if (!runpath) throw new Error(`${addon} has no $ORIGIN-relative rpath: it cannot find libggml in the package`);
      for (const entry of runpath.split(':')) {
        const target = resolve(dir, entry.replace(/^\$\{?ORIGIN\}?/, '.'));
        if (!target.startsWith(unpacked + sep) || !existsSync(target)) {
          throw new Error(`the trainer addon (${variant}) looks for its libraries in ${relative(unpacked, target)}, which the package does not contain`);
        }
      }
      done.push({addon: relative(unpacked, addon), runpath});
    }
    const infoPath = join(dir, 'build-info.json');
    if (existsSync(infoPath)) {
      const info = JSON.parse(readFileSync(infoPath, 'utf8'));
      if (typeof info.binsDir === 'string' && isAbsolute(info.binsDir)) {
        const i = info.binsDir.lastIndexOf(`${sep}node_modules${sep}`);
        info.binsDir = i >= 0 ? relative(dir, join(unpacked, info.binsDir.slice(i + 1))).split(sep).join('/') : null;
        writeFileSync(infoPath, JSON.stringify(info, null, 2) + '\n');
      }
    }
  }
  return done;
}

async function afterPack(context) {
  const unpacked = join(resourcesDir(context.appOutDir, context.electronPlatformName), 'app.asar.unpacked');
  for (const {addon, runpath} of fixTrainerAddons(unpacked, context.electronPlatformName)) {
    console.log(`  • trainer addon  file=${addon} runpath=${runpath}`);
  }
}

module.exports = afterPack;
module.exports.default = afterPack;
module.exports.fixTrainerAddons = fixTrainerAddons;
