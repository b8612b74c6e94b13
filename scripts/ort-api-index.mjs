#!/usr/bin/env node
// Prints the position of each named function in onnxruntime's `struct OrtApi` (the table
// src/core/backends/ort-capi.ts calls through), read from a copy of onnxruntime_c_api.h.
// Usage: node scripts/ort-api-index.mjs path/to/onnxruntime_c_api.h [Name ...]   (no names: all, one per line)
import { readFileSync } from 'node:fs';

const [header, ...names] = process.argv.slice(2);
if (!header) {
  console.error('usage: node scripts/ort-api-index.mjs onnxruntime_c_api.h [Name ...]');
  process.exit(2);
}
const src = readFileSync(header, 'utf8');
const version = /#define ORT_API_VERSION (\d+)/.exec(src)?.[1];
const start = src.indexOf('\nstruct OrtApi {');
if (start < 0) {
  console.error(`${header}: no 'struct OrtApi {' found`);
  process.exit(1);
}
let depth = 1;
let end = src.indexOf('{', start) + 1;
const bodyStart = end;
while (depth > 0 && end < src.length) {
  if (src[end] === '{') depth++;
  else if (src[end] === '}') depth--;
  end++;
}
const body = src
  .slice(bodyStart, end - 1)
  .replace(/\/\*[\s\S]*?\*\//g, '')
  .replace(/\/\/.*$/gm, '')
  .replace(/^\s*#.*$/gm, '');
// members end with ';' outside parentheses
const members = [];
let current = '';
let parens = 0;
for (const c of body) {
  if (c === '(') parens++;
  if (c === ')') parens--;
  if (c === ';' && parens === 0) {
    members.push(current.trim());
    current = '';
  } else current += c;
}
const table = members.filter(Boolean).map((m) => {
  let r;
  if ((r = /^ORT_API2_STATUS\(\s*(\w+)/.exec(m))) return r[1];
  if ((r = /^ORT_CLASS_RELEASE\(\s*(\w+)/.exec(m))) return `Release${r[1]}`;
  if ((r = /^ORT_API_T\(\s*[^,]+,\s*(\w+)/.exec(m))) return r[1];
  if ((r = /ORT_API_CALL\s*\*\s*(\w+)\s*\)/.exec(m))) return r[1];
  throw new Error(`unparsed member: ${m.slice(0, 120)}`);
});
console.error(`ORT_API_VERSION ${version ?? '?'}: ${table.length} functions`);
for (const name of names.length > 0 ? names : table) {
  const i = table.indexOf(name);
  console.log(`${name} ${i}`);
  if (i < 0) process.exitCode = 1;
}
