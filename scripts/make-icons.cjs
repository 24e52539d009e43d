#!/usr/bin/env node
// Writes the app icons for electron-builder into resources/ (no image tools needed): a deep green
// rounded square with a white cross, drawn with 4×4 supersampling.
//   resources/icons/<N>x<N>.png  Linux (16…512)       resources/icon.png   512×512 (fallback)
//   resources/icon.ico           Windows (PNG entries) resources/icon.icns  macOS (PNG entries)
// Run again after changing the drawing: node scripts/make-icons.cjs
'use strict';
const {mkdirSync, writeFileSync} = require('node:fs');
const {join, resolve} = require('node:path');
const {deflateSync} = require('node:zlib');

const out = resolve(__dirname, '..', 'resources');
const GREEN = [15, 92, 77];
const WHITE = [255, 255, 255];

/** Colour and coverage at (x, y) in the unit square. */
function sample(x, y) {
  const margin = 0.0625, radius = 0.18;
  const cx = Math.min(Math.max(x, margin + radius), 1 - margin - radius);
  const cy = Math.min(Math.max(y, margin + radius), 1 - margin - radius);
  if ((x - cx) ** 2 + (y - cy) ** 2 > radius ** 2) return null; // outside the rounded square
  const arm = 0.11, length = 0.29;
  const inCross = (Math.abs(x - 0.5) < arm && Math.abs(y - 0.5) < length) || (Math.abs(y - 0.5) < arm && Math.abs(x - 0.5) < length);
  return inCross ? WHITE : GREEN;
}

function render(size) {
  const rgba = Buffer.alloc(size * size * 4);
  const n = 4;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < n; sy++) {
        for (let sx = 0; sx < n; sx++) {
          const c = sample((px + (sx + 0.5) / n) / size, (py + (sy + 0.5) / n) / size);
          if (!c) continue;
          r += c[0]; g += c[1]; b += c[2]; a += 1;
        }
      }
      const i = (py * size + px) * 4;
      if (a) {
        rgba[i] = Math.round(r / a); rgba[i + 1] = Math.round(g / a); rgba[i + 2] = Math.round(b / a);
        rgba[i + 3] = Math.round((255 * a) / (n * n));
      }
    }
  }
  return rgba;
}

const CRC_TABLE = Array.from({length: 256}, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buffer) {
  let c = 0xffffffff;
  for (const byte of buffer) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}
function png(size) {
  const rgba = render(size);
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) rgba.copy(raw, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(raw, {level: 9})), chunk('IEND', Buffer.alloc(0))]);
}

function ico(images) {
  const header = Buffer.alloc(6);
  header.writeUInt16LE(1, 2);
  header.writeUInt16LE(images.length, 4);
  let offset = 6 + 16 * images.length;
  const entries = images.map(({size, data}) => {
    const e = Buffer.alloc(16);
    e[0] = size >= 256 ? 0 : size;
    e[1] = size >= 256 ? 0 : size;
    e.writeUInt16LE(1, 4); // planes
    e.writeUInt16LE(32, 6); // bits per pixel
    e.writeUInt32LE(data.length, 8);
    e.writeUInt32LE(offset, 12);
    offset += data.length;
    return e;
  });
  return Buffer.concat([header, ...entries, ...images.map((i) => i.data)]);
}

function icns(images) {
  const types = {16: 'icp4', 32: 'icp5', 64: 'icp6', 128: 'ic07', 256: 'ic08', 512: 'ic09', 1024: 'ic10'};
  const parts = images.filter((i) => types[i.size]).map(({size, data}) => {
    const h = Buffer.alloc(8);
    h.write(types[size], 0, 'ascii');
    h.writeUInt32BE(data.length + 8, 4);
    return Buffer.concat([h, data]);
  });
  const total = 8 + parts.reduce((s, p) => s + p.length, 0);
  const h = Buffer.alloc(8);
  h.write('icns', 0, 'ascii');
  h.writeUInt32BE(total, 4);
  return Buffer.concat([h, ...parts]);
}

const sizes = [16, 24, 32, 48, 64, 128, 256, 512, 1024];
const images = sizes.map((size) => ({size, data: png(size)}));
const bySize = Object.fromEntries(images.map((i) => [i.size, i]));
mkdirSync(join(out, 'icons'), {recursive: true});
for (const {size, data} of images.filter((i) => i.size <= 512)) writeFileSync(join(out, 'icons', `${size}x${size}.png`), data);
writeFileSync(join(out, 'icon.png'), bySize[512].data);
writeFileSync(join(out, 'icon.ico'), ico([16, 24, 32, 48, 64, 128, 256].map((s) => bySize[s])));
writeFileSync(join(out, 'icon.icns'), icns(images.filter((i) => [16, 32, 64, 128, 256, 512, 1024].includes(i.size))));
console.log(`icons written to ${out}`);
