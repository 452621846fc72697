/**
 * The package as a user gets it: `npm pack`, install the tarball into a fresh project with
 * Express, then `require`, `import` and type-check against the installed declarations.
 * publint and arethetypeswrong check the tarball.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..');
const bin = (name: string) => join(root, 'node_modules', '.bin', name);

describe('the packed package', { timeout: 180_000 }, () => {
  let project: string;
  let tarball: string;

  before(async () => {
    project = await mkdtemp(join(tmpdir(), 'ssjs-pack-'));
    const { stdout } = await run(
      'npm',
      ['pack', '--json', '--ignore-scripts', '--pack-destination', project],
      {
        cwd: root,
      },
    );
    const [info] = JSON.parse(stdout) as Array<{
      filename: string;
      files: Array<{ path: string }>;
    }>;
    assert.ok(info);
    tarball = join(project, info.filename);
    const files = info.files.map((f) => f.path);
    // Only the build, README, LICENSE and package.json ship.
    for (const file of files) {
      assert.match(
        file,
        /^(dist\/|README\.md$|LICENSE$|package\.json$|express-session\/package\.json$)/,
        `unexpected file in tarball: ${file}`,
      );
    }
    assert.ok(files.includes('README.md') && files.includes('LICENSE'));
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, version: '1.0.0' }),
    );
    await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        tarball,
        'express@5',
        '@types/express@5',
        'express-session@1',
        '@types/express-session@1',
        '@types/node@20',
      ],
      {
        cwd: project,
      },
    );
  });

  after(async () => {
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('require() returns the SessionManager class with everything attached', async () => {
    const script = `
      const assert = require('node:assert/strict');
      const SessionManager = require('session-store-js');
      assert.equal(typeof SessionManager, 'function');
      assert.equal(SessionManager.SessionManager, SessionManager);
      assert.equal(SessionManager.default, SessionManager);
      for (const name of ['MemoryStore', 'FileStore', 'RedisStore', 'SessionError', 'SessionDestroyedError', 'InvalidOptionError', 'StoreUnavailableError']) {
        assert.equal(typeof SessionManager[name], 'function', name);
      }
      const sm = new SessionManager({ secret: 'x'.repeat(32) });
      assert.ok(sm.store instanceof SessionManager.MemoryStore);
      assert.equal(typeof sm.middleware(), 'function');
      sm.close().then(() => console.log('cjs ok'));
    `;
    const { stdout } = await run(process.execPath, ['-e', script], { cwd: project });
    assert.match(stdout, /cjs ok/);
  });

  it('ESM import gives the default export and the named exports; require() gives the CommonJS build with the same names', async () => {
    const script = `
      import assert from 'node:assert/strict';
      import { createRequire } from 'node:module';
      import * as esm from 'session-store-js';
      import SessionManager, { SessionManager as Named, MemoryStore, FileStore, RedisStore, SessionDestroyedError } from 'session-store-js';
      const require = createRequire(import.meta.url);
      assert.match(require.resolve('session-store-js'), /dist[\\/]commonjs[\\/]index.js$/);
      const cjs = require('session-store-js');
      assert.notEqual(cjs, SessionManager, 'require() must load the CommonJS build, not the ESM one');
      assert.equal(typeof cjs, 'function');
      assert.equal(cjs.name, SessionManager.name);
      const names = (o) => Object.keys(o).filter((k) => k !== 'default').sort();
      assert.deepEqual(names(cjs), names(esm));
      assert.equal(SessionManager, Named);
      assert.equal(typeof MemoryStore, 'function');
      assert.equal(typeof FileStore, 'function');
      assert.equal(typeof RedisStore, 'function');
      assert.equal(new SessionDestroyedError().code, 'SESSION_DESTROYED');
      console.log('esm ok');
    `;
    await writeFile(join(project, 'check.mjs'), script);
    const { stdout } = await run(process.execPath, ['check.mjs'], { cwd: project });
    assert.match(stdout, /esm ok/);
  });

  it('require() and import of session-store-js/express-session give the interop API', async () => {
    const cjs = `
      const assert = require('node:assert/strict');
      const interop = require('session-store-js/express-session');
      const { MemoryStore } = require('session-store-js');
      const expressSession = require('express-session');
      // Like express-session, the module is the session function with the classes attached.
      assert.equal(typeof interop, 'function');
      assert.equal(typeof interop({ secret: 's', resave: false, saveUninitialized: false }), 'function');
      for (const name of ['Store', 'MemoryStore', 'Session', 'Cookie', 'toExpressStore', 'fromExpressStore', 'migrateSessions']) {
        assert.equal(typeof interop[name], 'function', name);
      }
      assert.equal(interop.default, interop);
      assert.ok(new interop.MemoryStore() instanceof interop.Store);
      assert.equal(typeof interop.migrateSessions, 'function');
      const wrapped = interop.fromExpressStore(new expressSession.MemoryStore());
      assert.equal(wrapped.capabilities.atomicCreate, 'process');
      const store = interop.toExpressStore(new MemoryStore());
      assert.ok(store instanceof expressSession.Store, 'extends the installed express-session Store');
      store.get('missing-id-00000000000000000', (error, session) => {
        assert.equal(error, null);
        assert.equal(session, null);
        console.log('cjs ok');
      });
    `;
    const { stdout } = await run(process.execPath, ['-e', cjs], { cwd: project });
    assert.match(stdout, /cjs ok/);
    await writeFile(
      join(project, 'interop.mjs'),
      `
      import assert from 'node:assert/strict';
      import session, { toExpressStore, MemoryStore as SessionMemoryStore } from 'session-store-js/express-session';
      assert.equal(typeof session, 'function');
      assert.equal(session.MemoryStore, SessionMemoryStore);
      import { MemoryStore } from 'session-store-js';
      import expressSession from 'express-session';
      assert.ok(toExpressStore(new MemoryStore()) instanceof expressSession.Store);
      console.log('esm ok');
      `,
    );
    const esm = await run(process.execPath, ['interop.mjs'], { cwd: project });
    assert.match(esm.stdout, /esm ok/);
  });

  it('a TypeScript user type-checks against the installed declarations', async () => {
    await writeFile(
      join(project, 'app.mts'),
      `
      import express from 'express';
      import SessionManager, { MemoryStore, type SessionManagerOptions } from 'session-store-js';
      interface Data { visits: number; user?: { name: string } }
      const options: SessionManagerOptions<MemoryStore> = { store: new MemoryStore(), secret: 'x'.repeat(32) };
      const sessions = new SessionManager<Data, MemoryStore>(options);
      const app = express();
      app.use(sessions.middleware());
      app.get('/', async (req, res) => {
        const visits: number | undefined = await sessions.get(req, 'visits');
        await sessions.set(req, 'visits', (visits ?? 0) + 1);
        // @ts-expect-error: 'visits' holds a number
        await sessions.set(req, 'visits', 'many');
        // @ts-expect-error: unknown key
        await sessions.get(req, 'nope');
        sessions.store.startCleanup();
        res.send(String(visits));
      });
      `,
    );
    await writeFile(
      join(project, 'legacy.cts'),
      `
      import SessionManager = require('session-store-js');
      const sessions = new SessionManager({ secret: 'x'.repeat(32), storeType: 'memory' });
      const store: InstanceType<typeof SessionManager.MemoryStore> = new SessionManager.MemoryStore();
      void sessions; void store;
      `,
    );
    await writeFile(
      join(project, 'interop.mts'),
      `
      import express from 'express';
      import session from 'express-session';
      import { MemoryStore } from 'session-store-js';
      import dropIn, { toExpressStore, type ExpressSessionStore } from 'session-store-js/express-session';
      const store: ExpressSessionStore<MemoryStore> = toExpressStore(new MemoryStore(), { maxAge: 60_000 });
      const app = express();
      app.use(session({ store, secret: 'keyboard cat', resave: false, saveUninitialized: false }));
      app.use(dropIn({ secret: 'keyboard cat', resave: false, saveUninitialized: false, cookie: { maxAge: 60_000, sameSite: 'auto' } }));
      app.use(dropIn({ secret: ['a', 'b'], store: new MemoryStore(), resave: true, saveUninitialized: true }));
      const store2: InstanceType<typeof dropIn.MemoryStore> = new dropIn.MemoryStore();
      void store2;
      // @ts-expect-error: unset is 'keep' or 'destroy'
      dropIn({ unset: 'sometimes' });
      // @ts-expect-error: onLostSession is 'ignore' or 'error'
      toExpressStore(new MemoryStore(), { onLostSession: 'sometimes' });
      `,
    );
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
        },
        files: ['app.mts', 'legacy.cts', 'interop.mts'],
      }),
    );
    await run(
      process.execPath,
      [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project],
      {
        cwd: project,
      },
    ).catch((error: { stdout?: string }) => {
      assert.fail(`tsc failed:\n${error.stdout}`);
    });
  });

  it('publint finds nothing to fix', async () => {
    const dir = join(project, 'node_modules', 'session-store-js');
    const { stdout } = await run(bin('publint'), [dir, '--strict']);
    assert.doesNotMatch(stdout, /error|warning/i, stdout);
  });

  it('arethetypeswrong finds no problem for node10, node16 (CJS and ESM) and bundlers', async () => {
    const names = await readdir(project);
    assert.ok(names.some((n) => n.endsWith('.tgz')));
    await run(bin('attw'), [tarball, '--format', 'table-flipped']).catch(
      (error: { stdout?: string }) => {
        assert.fail(`attw reported problems:\n${error.stdout}`);
      },
    );
  });
});
