/** The README's example apps are the files `npm start` runs, character for character. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';

const root = resolve(import.meta.dirname, '..');

describe('README', () => {
  it('shows each example app exactly as it is in examples/', async () => {
    const readme = await readFile(resolve(root, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/<!-- example: (\S+) -->\n```js\n([\s\S]*?)```/g)];
    assert.ok(blocks.length >= 2, 'README marks its example apps with <!-- example: path -->');
    for (const [, path, code] of blocks) {
      const file = await readFile(resolve(root, path!), 'utf8');
      assert.equal(code, file, `README block for ${path} differs from the file`);
    }
  });

  it('shows the reference store exactly as it is in examples/', async () => {
    const readme = await readFile(resolve(root, 'README.md'), 'utf8');
    const block = /<!-- store: (\S+) -->\n```ts\n([\s\S]*?)```/.exec(readme);
    assert.ok(block, 'README shows the reference store under <!-- store: path -->');
    assert.equal(block[2], await readFile(resolve(root, block[1]!), 'utf8'));
  });

  it('gives the two set-up commands', async () => {
    const readme = await readFile(resolve(root, 'README.md'), 'utf8');
    assert.match(readme, /npm install && npm start/);
    assert.match(readme, /npm install && npm test/);
    const pkg = JSON.parse(await readFile(resolve(root, 'package.json'), 'utf8'));
    assert.equal(pkg.scripts.start, 'node examples/memory-app.cjs');
  });
});
