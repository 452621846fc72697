/**
 * PostgreSQL for the tests: is the shared server reachable (skip rule), random table names so
 * parallel runs never meet, and private servers (`initdb` + `pg_ctl` in a temp directory, on a
 * free loopback port, as the `postgres` user) for the tests that stop or restart one.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './redis.js';

const run = promisify(execFile);

/** The shared server: `DATABASE_URL`, else the local `test` database. */
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Under CI or `REQUIRE_PG=1` a missing PostgreSQL is a failure, not a skip. */
export const PG_REQUIRED = process.env.CI === 'true' || process.env.REQUIRE_PG === '1';

/** A random table name for one test file, so parallel runs on the shared database never meet. */
export function randomTable(label = 'test'): string {
  return `sst_${label}_${randomBytes(5).toString('hex')}`;
}

/** A pool on `url` with an error listener (node-postgres requires one) and short timeouts. */
export function testPool(url = DATABASE_URL, config: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: 2000, ...config });
  pool.on('error', () => {});
  return pool;
}

/** Resolves true when `SELECT 1` answers on `url` within `timeoutMs`. */
export async function pingPostgres(url = DATABASE_URL, timeoutMs = 1000): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * `undefined` when the shared PostgreSQL answers; else the skip message. Throws instead when it
 * is required (CI), so a broken CI setup fails loudly rather than skipping everything.
 */
export async function pgSkipReason(url = DATABASE_URL): Promise<string | undefined> {
  if (await pingPostgres(url, 2000)) return undefined;
  const message = `no PostgreSQL at ${url.replace(/\/\/[^@]*@/, '//…@')} (set DATABASE_URL, or start PostgreSQL)`;
  if (PG_REQUIRED) throw new Error(`${message}; required because CI=true or REQUIRE_PG=1`);
  return message;
}

/** Drops `table` if it exists (only tables a test created). */
export async function dropTable(pool: pg.Pool, table: string): Promise<void> {
  const quoted = table
    .split('.')
    .map((p) => `"${p.replaceAll('"', '""')}"`)
    .join('.');
  await pool.query(`DROP TABLE IF EXISTS ${quoted}`);
}

const BIN = '/usr/lib/postgresql/15/bin';

/** Runs a PostgreSQL binary as the `postgres` user (the server refuses to run as root). */
function asPostgres(binary: string, args: string[]): Promise<{ stdout: string }> {
  const path = join(BIN, binary);
  if (userInfo().uid === 0) return run('runuser', ['-u', 'postgres', '--', path, ...args]);
  return run(path, args);
}

/** Why a private server can't be started here, or `undefined` when it can. */
export function privateServerSkipReason(): string | undefined {
  const reason = !existsSync(join(BIN, 'initdb'))
    ? `no ${BIN}/initdb`
    : userInfo().uid !== 0 && userInfo().username !== 'postgres'
      ? 'a private PostgreSQL needs root (runuser -u postgres) or the postgres user'
      : undefined;
  if (reason && PG_REQUIRED) throw new Error(`${reason}; required because CI=true or REQUIRE_PG=1`);
  return reason;
}

/** Data directories of private servers still running: stopped if the test process exits. */
const running = new Set<string>();
process.once('exit', () => {
  for (const data of running) {
    try {
      const args = ['-D', data, '-m', 'immediate', 'stop'];
      if (userInfo().uid === 0) {
        execFileSync('runuser', ['-u', 'postgres', '--', join(BIN, 'pg_ctl'), ...args], {
          stdio: 'ignore',
        });
      } else execFileSync(join(BIN, 'pg_ctl'), args, { stdio: 'ignore' });
    } catch {
      // Already stopped.
    }
  }
});

/** A private PostgreSQL 15 in a temp directory, on a free loopback port. */
export class PostgresServer {
  readonly port: number;
  readonly dir: string;
  #running = false;

  private constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** `initdb` (trust auth, no fsync) and start; resolves once it accepts connections. */
  static async start(): Promise<PostgresServer> {
    const dir = await mkdtemp(join(tmpdir(), 'sst-pg-'));
    const { uid, gid } = await postgresIds();
    await chown(dir, uid, gid);
    const server = new PostgresServer(await freePort(), dir);
    await asPostgres('initdb', [
      '-D',
      join(dir, 'data'),
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
      '--no-instructions',
    ]);
    await server.restart();
    return server;
  }

  /** (Re)starts the server on the same port and data directory. */
  async restart(): Promise<void> {
    const options = [
      `-p ${this.port}`,
      '-c listen_addresses=127.0.0.1',
      `-c unix_socket_directories=${this.dir}`,
      '-c fsync=off',
      '-c max_connections=40',
    ].join(' ');
    await asPostgres('pg_ctl', [
      '-D',
      join(this.dir, 'data'),
      '-o',
      options,
      '-l',
      join(this.dir, 'log'),
      '-w',
      '-t',
      '60',
      'start',
    ]);
    this.#running = true;
    running.add(join(this.dir, 'data'));
  }

  /** Stops the server: `fast` disconnects clients cleanly, `immediate` is a crash. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    await asPostgres('pg_ctl', ['-D', join(this.dir, 'data'), '-m', mode, '-w', 'stop']);
    running.delete(join(this.dir, 'data'));
  }

  /** Stops the server and removes its directory. */
  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([
    run('id', ['-u', 'postgres']),
    run('id', ['-g', 'postgres']),
  ]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}
