/**
 * The FileStore example app (`npm run start:file`) as a user runs it, over HTTP, with the session
 * directory in a temp folder: the count survives a restart of the server, `/ensure-directory`
 * recreates a deleted directory (0700), `/file-path` names a file inside it that holds the session.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertBuilt, type RunningExample, startExample } from './helpers/example.js';
import { Client } from './helpers/http.js';

const EXAMPLE = 'examples/file-app.cjs';
const COOKIE = 'custom.sid';

describe('examples/file-app.cjs over HTTP', () => {
  let workdir: string;
  let sessionDir: string;
  let app: RunningExample;
  let alice: Client;
  const start = async () => {
    app = await startExample(EXAMPLE, { SESSION_DIR: sessionDir });
    alice = new Client(app.base, alice?.jar);
  };

  before(async () => {
    assertBuilt(EXAMPLE);
    workdir = await mkdtemp(join(tmpdir(), 'ssjs-file-example-'));
    sessionDir = join(workdir, 'sessions');
    await start();
  });

  after(async () => {
    await app?.stop();
    await rm(workdir, { recursive: true, force: true });
  });

  it('counts visits 1, 2, 3 and keeps one 0600 file per session in a 0700 directory', async () => {
    for (const n of [1, 2, 3]) assert.equal((await alice.get('/')).body, `Visits: ${n}`);
    assert.equal((await new Client(app.base).get('/')).body, 'Visits: 1');
    const names = (await readdir(sessionDir)).filter((n) => n.endsWith('.json'));
    assert.equal(names.length, 2);
    for (const name of names) {
      assert.match(name, /^[0-9a-f]{64}\.json$/);
      assert.equal((await stat(join(sessionDir, name))).mode & 0o777, 0o600);
    }
    assert.equal((await stat(sessionDir)).mode & 0o777, 0o700);
  });

  it('/file-path names the file of this session, inside the directory, holding its data', async () => {
    const reply = await alice.get('/file-path');
    assert.equal(reply.status, 200);
    const path = reply.body;
    assert.equal(dirname(path), sessionDir);
    const content = await readFile(path, 'utf8');
    assert.match(content, /"visits":3/);
    assert.equal((await new Client(app.base).get('/file-path')).status, 404);
  });

  it('the count goes on after the server restarts', async () => {
    await app.stop();
    await start();
    assert.equal((await alice.get('/')).body, 'Visits: 4');
    const all = (await alice.get('/all-sessions')).json<Record<string, { visits: number }>>();
    assert.equal(Object.keys(all).length, 2);
  });

  it('/ensure-directory recreates a deleted directory, and new sessions land in it', async () => {
    await rm(sessionDir, { recursive: true, force: true });
    const reply = await alice.get('/ensure-directory');
    assert.equal(reply.status, 200);
    assert.equal((await stat(sessionDir)).mode & 0o777, 0o700);
    // The operator deleted every session: the old cookie is not adopted, a new session starts.
    const visit = await alice.get('/');
    assert.equal(visit.body, 'Visits: 1');
    assert.equal((await readdir(sessionDir)).filter((n) => n.endsWith('.json')).length, 1);
  });

  it('/logout removes the file; /clear-all empties the directory of sessions', async () => {
    const path = (await alice.get('/file-path')).body;
    await stat(path);
    const out = await alice.get('/logout');
    assert.match(
      out.headers.get('set-cookie') ?? '',
      new RegExp(`^${COOKIE.replace('.', '\\.')}=;`),
    );
    await assert.rejects(stat(path), { code: 'ENOENT' });
    await new Client(app.base).get('/');
    await new Client(app.base).get('/');
    assert.equal((await alice.get('/clear-all')).body, 'All sessions cleared');
    assert.equal((await readdir(sessionDir)).filter((n) => n.endsWith('.json')).length, 0);
  });
});
