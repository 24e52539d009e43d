// Reads and shortens the run-time search path (DT_RUNPATH / DT_RPATH) of a 64-bit little-endian
// ELF shared object (Linux x64, arm64) in place, without patchelf: the packaged trainer addon must
// find node-llama-cpp's libggml relative to itself ($ORIGIN), never at a build machine's path.
// CommonJS so that electron-builder's afterPack hook (resources/package-hooks.cjs) can require it.
'use strict';
const {readFileSync, writeFileSync} = require('node:fs');

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NULL = 0;
const DT_STRTAB = 5;
const DT_RPATH = 15;
const DT_RUNPATH = 29;

/** {tag: 'RUNPATH'|'RPATH', value, offset} of the file's search path, null when it has none;
 * throws on a file that is not a 64-bit little-endian ELF. */
function readRunpath(file, buffer = readFileSync(file)) {
  if (buffer.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file}: not an ELF file`);
  if (buffer[4] !== 2 || buffer[5] !== 1) throw new Error(`${file}: only 64-bit little-endian ELF is supported`);
  const phoff = Number(buffer.readBigUInt64LE(0x20));
  const phentsize = buffer.readUInt16LE(0x36);
  const phnum = buffer.readUInt16LE(0x38);
  const loads = [];
  let dynamic = null;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    const type = buffer.readUInt32LE(at);
    const segment = {
      offset: Number(buffer.readBigUInt64LE(at + 8)),
      vaddr: Number(buffer.readBigUInt64LE(at + 16)),
      filesz: Number(buffer.readBigUInt64LE(at + 32)),
    };
    if (type === PT_LOAD) loads.push(segment);
    if (type === PT_DYNAMIC) dynamic = segment;
  }
  if (!dynamic) return null;
  let strtab = null;
  let path = null;
  for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.filesz; at += 16) {
    const tag = Number(buffer.readBigInt64LE(at));
    const value = Number(buffer.readBigUInt64LE(at + 8));
    if (tag === DT_NULL) break;
    if (tag === DT_STRTAB) strtab = value;
    if (tag === DT_RUNPATH || tag === DT_RPATH) path = {tag: tag === DT_RUNPATH ? 'RUNPATH' : 'RPATH', index: value};
  }
  if (!path || strtab === null) return null;
  const load = loads.find((s) => strtab >= s.vaddr && strtab < s.vaddr + s.filesz);
  if (!load) throw new Error(`${file}: the dynamic string table is outside every loaded segment`);
  const offset = strtab - load.vaddr + load.offset + path.index;
  const end = buffer.indexOf(0, offset);
  return {tag: path.tag, value: buffer.toString('utf8', offset, end), offset};
}

/** Keeps only the $ORIGIN-relative entries of the search path (in place: the string can only get
 * shorter). Answers the new value, or null when the file has no search path. */
function keepOriginEntries(file) {
  const buffer = readFileSync(file);
  const found = readRunpath(file, buffer);
  if (!found) return null;
  const kept = found.value.split(':').filter((entry) => entry.startsWith('$ORIGIN') || entry.startsWith('${ORIGIN}'));
  const value = kept.join(':');
  if (value === found.value) return value;
  const length = Buffer.byteLength(found.value);
  buffer.fill(0, found.offset, found.offset + length);
  buffer.write(value, found.offset, 'utf8');
  writeFileSync(file, buffer);
  return value;
}

module.exports = {readRunpath, keepOriginEntries};
