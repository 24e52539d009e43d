#!/usr/bin/env node
// The update feed that electron-updater's generic provider reads from the hospital's server:
// latest-linux.yml (latest.yml on Windows, latest-mac.yml on macOS) beside the installers, with
// each installer's size and sha512 (base64, as electron-builder writes it). electron-builder writes
// these files itself for AppImage, NSIS and DMG; this script checks them after `npm run dist`
// (a feed whose sha512 does not match its installer makes every update fail), and writes one for
// an artifact made some other way.
//
//   node scripts/update-feed.cjs verify release/cpu            # every latest*.yml there
//   node scripts/update-feed.cjs write ARTIFACT [--version V] [--feed latest-linux.yml]
'use strict';
const {createHash} = require('node:crypto');
const {createReadStream, existsSync, readdirSync, readFileSync, statSync, writeFileSync} = require('node:fs');
const {basename, dirname, join, resolve} = require('node:path');
const yaml = require('js-yaml');

function sha512(file) {
  return new Promise((done, fail) => {
    const hash = createHash('sha512');
    createReadStream(file).on('data', (chunk) => hash.update(chunk)).on('error', fail).on('end', () => done(hash.digest('base64')));
  });
}

/** The feed's content for one artifact (electron-builder's UpdateInfo: files[], path, sha512). */
async function feedFor(artifact, version, releaseDate = new Date().toISOString()) {
  const entry = {url: basename(artifact), sha512: await sha512(artifact), size: statSync(artifact).size};
  return {version, files: [entry], path: entry.url, sha512: entry.sha512, releaseDate};
}

async function writeFeed(artifact, {version, feed = 'latest-linux.yml', releaseDate} = {}) {
  const info = await feedFor(artifact, version, releaseDate);
  const path = join(dirname(artifact), feed);
  writeFileSync(path, yaml.dump(info, {lineWidth: -1}));
  return path;
}

/** Problems of one feed file: each listed file must sit beside it with that size and sha512. */
async function verifyFeed(feedPath) {
  const info = yaml.load(readFileSync(feedPath, 'utf8'));
  const problems = [];
  if (!info || typeof info.version !== 'string') return [`${feedPath}: no version`];
  const files = info.files?.length ? info.files : info.path ? [{url: info.path, sha512: info.sha512}] : [];
  if (!files.length) problems.push(`${feedPath}: lists no file`);
  for (const file of files) {
    const path = join(dirname(feedPath), decodeURIComponent(file.url));
    if (!existsSync(path)) {
      problems.push(`${file.url}: listed in ${basename(feedPath)} but missing`);
      continue;
    }
    if (file.size !== undefined && file.size !== statSync(path).size) problems.push(`${file.url}: size ${statSync(path).size}, the feed says ${file.size}`);
    if (file.sha512 !== (await sha512(path))) problems.push(`${file.url}: sha512 differs from the feed`);
  }
  return problems;
}

module.exports = {sha512, feedFor, writeFeed, verifyFeed};

if (require.main === module) {
  const [command, target, ...rest] = process.argv.slice(2);
  const option = (name) => {
    const i = rest.indexOf(`--${name}`);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  (async () => {
    if (command === 'verify' && target) {
      const feeds = readdirSync(target).filter((f) => /^latest.*\.yml$/.test(f));
      if (!feeds.length) throw new Error(`no latest*.yml in ${target}: did electron-builder build an installer?`);
      let bad = 0;
      for (const feed of feeds) {
        const problems = await verifyFeed(join(target, feed));
        for (const problem of problems) console.error(`✗ ${problem}`);
        if (!problems.length) console.log(`✓ ${feed}`);
        bad += problems.length;
      }
      process.exit(bad ? 1 : 0);
    } else if (command === 'write' && target) {
      const version = option('version') ?? JSON.parse(readFileSync(resolve(__dirname, '..', 'package.json'), 'utf8')).version;
      console.log(await writeFeed(resolve(target), {version, feed: option('feed')}));
    } else {
      console.error('usage: update-feed.cjs verify DIR | write ARTIFACT [--version V] [--feed latest-linux.yml]');
      process.exit(2);
    }
  })().catch((error) => {
    console.error(error.message);
    process.exit(1);
  });
}
