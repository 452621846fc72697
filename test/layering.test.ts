/**
 * The import graph of src/: no cycle, and no arrow from a lower layer up. Layers, bottom up:
 * primitives (the files directly in src/ that are neither manager nor entry) <- stores
 * (src/stores/<name>/, which know only primitives and never each other) <- create-store.ts (the
 * one place that names concrete stores) <- manager (manager.ts and the files only it uses) <-
 * interop (src/express-session/) <- entries (index, public-api).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const root = resolve(import.meta.dirname, '..');
const src = join(root, 'src');

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return listFiles(path);
    return /\.c?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** `from '…'` of import/export statements and `import('…')`, relative ones resolved to files. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [
    ...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gms),
    ...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
  ].map((m) => m[1]!);
  return specifiers
    .filter((s) => s.startsWith('.'))
    .map((s) =>
      relative(src, resolve(dirname(file), s)).replace(/\.c?js$/, (ext) => ext.replace('js', 'ts')),
    );
}

const MANAGER = new Set([
  'manager.ts',
  'middleware.ts',
  'request-state.ts',
  'options.ts',
  'renewal.ts',
  'renewal-failure.ts',
  'store-call.ts',
  'move-in-steps.ts',
  'user-requests.ts',
  'users.ts',
  'legacy-call.ts',
  'legacy-import.ts',
  'legacy-session.ts',
]);
const ENTRIES = new Set(['index.ts', 'index-cjs.cts', 'public-api.ts']);

/**
 * Files besides create-store.ts that may name a concrete store, and why: the drop-in's
 * `session.MemoryStore` is express-session's public MemoryStore class, built on ours.
 */
const NAMES_A_STORE = new Set([
  'express-session/session-options.ts -> stores/memory/memory-store.ts',
]);

/** The layer of a file (relative to src/): higher layers may import lower ones only. */
function layer(file: string): number {
  if (ENTRIES.has(file)) return 5;
  if (file.startsWith('express-session/')) return 4;
  if (MANAGER.has(file)) return 3;
  if (file === 'stores/create-store.ts') return 2;
  if (file.startsWith('stores/')) return 1;
  return 0;
}

const files = listFiles(src).map((f) => relative(src, f));
const graph = new Map(files.map((f) => [f, importsOf(join(src, f))]));

describe('src/ import graph', () => {
  it('every relative import names a file that exists', () => {
    for (const [file, imports] of graph) {
      for (const target of imports) assert.ok(graph.has(target), `${file} imports ${target}`);
    }
  });

  it('has no arrow from a lower layer up', () => {
    const up: string[] = [];
    for (const [file, imports] of graph) {
      for (const target of imports)
        if (layer(target) > layer(file)) up.push(`${file} -> ${target}`);
    }
    assert.deepEqual(up, []);
  });

  it('a store knows only the primitives and its own folder; only create-store.ts names stores', () => {
    const wrong: string[] = [];
    for (const [file, imports] of graph) {
      for (const target of imports) {
        const store = /^stores\/([^/]+)\//.exec(target)?.[1];
        if (!store) continue;
        const own = file.startsWith(`stores/${store}/`);
        const allowed = NAMES_A_STORE.has(`${file} -> ${target}`);
        if (!own && !allowed && file !== 'stores/create-store.ts' && layer(file) !== 5) {
          wrong.push(`${file} -> ${target}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('has no cycle', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    assert.deepEqual(cycles, []);
  });
});
