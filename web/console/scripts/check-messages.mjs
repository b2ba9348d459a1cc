// `npm test` (and the first step of `npm run build`): both languages have exactly the
// same keys, no empty label, and every `t(key)` in the sources names a key.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const root = new URL('..', import.meta.url).pathname;
const source = readFileSync(join(root, 'src/messages.ts'), 'utf8');
const js = ts.transpileModule(source, {
  compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
}).outputText;
const { messages, LANGS } = await import('data:text/javascript;base64,' + Buffer.from(js).toString('base64'));

const problems = [];
const keysOf = (lang) => Object.keys(messages[lang] ?? {});
const all = new Set(LANGS.flatMap(keysOf));
for (const lang of LANGS) {
  const have = new Set(keysOf(lang));
  for (const key of all) {
    if (!have.has(key)) problems.push(`${lang} lacks ${key}`);
    else if (!String(messages[lang][key]).trim()) problems.push(`${lang}: ${key} is empty`);
  }
  for (const key of all) {
    const params = (s) => [...String(s ?? '').matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');
    if (params(messages[lang][key]) !== params(messages[LANGS[0]][key])) {
      problems.push(`${lang}: ${key} has other parameters than ${LANGS[0]}`);
    }
  }
}

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (/\.(ts|vue)$/.test(entry.name)) yield path;
  }
}
let used = 0;
for (const file of files(join(root, 'src'))) {
  for (const m of readFileSync(file, 'utf8').matchAll(/\bt\(\s*'([^']+)'/g)) {
    used++;
    if (!all.has(m[1])) problems.push(`${file.slice(root.length)}: t('${m[1]}') is not a message`);
  }
}

if (problems.length) {
  console.error('messages: ' + problems.join('\n  '));
  process.exit(1);
}
console.log(`messages: ${all.size} keys in ${LANGS.join(', ')}; ${used} uses checked`);
