/**
 * The README's option tables, the `@default` tags on the option types and the defaults the code
 * applies say the same thing: every documented option exists, every option is documented, and
 * every default written in the code is the one the README and the doc comment show.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { MANAGER_DEFAULTS } from '../src/options.js';
import { DEFAULT_STORE_TYPE } from '../src/stores/create-store.js';
import { FILE_STORE_DEFAULTS } from '../src/stores/file/options.js';
import { MEMORY_STORE_DEFAULTS } from '../src/stores/memory/options.js';
import { POSTGRES_STORE_DEFAULTS } from '../src/stores/postgres/options.js';
import { REDIS_STORE_DEFAULTS } from '../src/stores/redis/options.js';
import { USER_DEFAULTS } from '../src/users.js';

const root = resolve(import.meta.dirname, '..');
const readme = readFileSync(resolve(root, 'README.md'), 'utf8');

/** The rows (option -> Default cell) of the first table after `heading` in the README. */
function readmeTable(heading: string): Map<string, string> {
  const start = readme.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README has no heading ${heading}`);
  const lines = readme.slice(start).split('\n');
  const first = lines.findIndex((line) => line.startsWith('| option |'));
  assert.ok(first > 0, `no option table under ${heading}`);
  const header = splitRow(lines[first]!);
  const column = header.indexOf('Default');
  assert.ok(column > 0, `the table under ${heading} has no Default column`);
  const rows = new Map<string, string>();
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    const cells = splitRow(line);
    const option = /^`(\w+)`$/.exec(cells[0]!)?.[1];
    assert.ok(option, `unreadable option cell: ${cells[0]}`);
    rows.set(option, cells[column]!);
  }
  return rows;
}

/** Splits a Markdown table row on the `|` that are not escaped as `\|`. */
function splitRow(line: string): string[] {
  return line
    .slice(1, -1)
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim());
}

/** The properties of `export interface name` in `file`, each with its `@default` text. */
function optionDocs(file: string, name: string): Map<string, string | undefined> {
  const source = readFileSync(resolve(root, file), 'utf8');
  const start = source.indexOf(`export interface ${name}`);
  assert.ok(start >= 0, `${file} has no interface ${name}`);
  const body = source.slice(start, source.indexOf('\n}\n', start));
  const docs = new Map<string, string | undefined>();
  for (const [, doc, prop] of body.matchAll(/\/\*\*([\s\S]*?)\*\/\s*(?:readonly )?(\w+)\??:/g)) {
    if (doc!.includes('@internal')) continue;
    const tag = /@default (.+)/.exec(doc!)?.[1]?.trim();
    docs.set(prop!, tag);
  }
  return docs;
}

/** How a default value is written in a README cell and after `@default`. */
function literal(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}

const cases = [
  {
    heading: '### `new SessionManager(options)`',
    file: 'src/options.ts',
    type: 'SessionManagerOptions',
    defaults: {
      ...MANAGER_DEFAULTS,
      ...USER_DEFAULTS,
      storeType: DEFAULT_STORE_TYPE,
    } as Record<string, unknown>,
    required: ['secret'],
  },
  {
    heading: '#### `MemoryStore`',
    file: 'src/stores/memory/options.ts',
    type: 'MemoryStoreOptions',
    defaults: MEMORY_STORE_DEFAULTS as Record<string, unknown>,
    required: [],
  },
  {
    heading: '#### `FileStore`',
    file: 'src/stores/file/options.ts',
    type: 'FileStoreOptions',
    defaults: FILE_STORE_DEFAULTS as Record<string, unknown>,
    required: [],
  },
  {
    heading: '#### `RedisStore`',
    file: 'src/stores/redis/options.ts',
    type: 'RedisStoreOptions',
    defaults: REDIS_STORE_DEFAULTS as Record<string, unknown>,
    required: [],
  },
  {
    heading: '#### `PostgresStore`',
    file: 'src/stores/postgres/options.ts',
    type: 'PostgresStoreOptions',
    defaults: POSTGRES_STORE_DEFAULTS as Record<string, unknown>,
    required: [],
  },
];

for (const { heading, file, type, defaults, required } of cases) {
  describe(`${type}: README table, @default tags and code defaults`, () => {
    const rows = readmeTable(heading);
    const docs = optionDocs(file, type);

    it('documents every option in the README, and nothing else', () => {
      assert.deepEqual([...rows.keys()].sort(), [...docs.keys()].sort());
    });

    it('gives every optional option a @default tag', () => {
      for (const [option, tag] of docs) {
        if (required.includes(option)) continue;
        assert.ok(tag, `${type}.${option} has no @default`);
      }
    });

    it('shows each default of the code in the README and after @default', () => {
      for (const [option, value] of Object.entries(defaults)) {
        const written = literal(value);
        const tag = docs.get(option);
        assert.ok(tag?.startsWith(written), `${type}.${option}: @default ${tag}, code ${written}`);
        const cell = rows.get(option);
        assert.ok(
          cell?.includes(`\`${written}\``),
          `README ${heading} ${option}: "${cell}", code ${written}`,
        );
      }
    });
  });
}
