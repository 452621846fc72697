/**
 * Redis for the tests: is the shared Redis reachable (skip rule), private `redis-server`
 * processes on free loopback ports (fault tests), a TCP proxy that can black-hole a link, and
 * connections that record the commands a store sends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import type { RedisClientLike } from '../../src/stores/redis/client.js';
import { escapeGlob } from '../../src/stores/redis/codec.js';

/** The shared Redis: `REDIS_URL`, else 127.0.0.1:6379. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Under CI or `REQUIRE_REDIS=1` a missing Redis is a failure, not a skip. */
export const REDIS_REQUIRED = process.env.CI === 'true' || process.env.REQUIRE_REDIS === '1';

/** A random key prefix for one test run, so parallel runs on the shared Redis never meet. */
export function randomPrefix(label = 'test'): string {
  return `sst:${label}:${randomBytes(6).toString('hex')}:`;
}

function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) };
}

/** Resolves true when something at `url` answers PING with PONG (or NOAUTH) within `timeoutMs`. */
export function pingRedis(url: string, timeoutMs = 500): Promise<boolean> {
  const { host, port } = hostPort(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let buffer = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      if (buffer.includes('\r\n')) done(buffer.startsWith('+PONG') || buffer.includes('NOAUTH'));
    });
    socket.on('error', () => done(false));
  });
}

/**
 * `undefined` when the shared Redis answers; else the skip message. Throws instead when Redis is
 * required (CI), so a broken CI setup fails loudly rather than skipping everything.
 */
export async function redisSkipReason(url = REDIS_URL): Promise<string | undefined> {
  if (await pingRedis(url, 1000)) return undefined;
  const message = `no Redis at ${url} (set REDIS_URL, or start redis-server)`;
  if (REDIS_REQUIRED) throw new Error(`${message}; required because CI=true or REQUIRE_REDIS=1`);
  return message;
}

/** True when a `redis-server` binary can be started. */
export async function canSpawnRedisServer(): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('redis-server', ['--version'], { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}

/** A free TCP port on 127.0.0.1 (free when probed; good enough for tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Every redis-server this process started and has not stopped: killed if the process exits. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A private `redis-server` (no persistence) on a loopback port. */
export class RedisServer {
  readonly port: number;
  readonly extraArgs: string[];
  #child: ChildProcess | undefined;

  private constructor(port: number, extraArgs: string[]) {
    this.port = port;
    this.extraArgs = extraArgs;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts a server on a free port (or `port`) and waits until it answers PING. */
  static async start(options: { port?: number; args?: string[] } = {}): Promise<RedisServer> {
    const server = new RedisServer(options.port ?? (await freePort()), options.args ?? []);
    await server.restart();
    return server;
  }

  /** (Re)starts the process on the same port. */
  async restart(): Promise<void> {
    if (this.#child) throw new Error('redis-server is already running');
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        ...this.extraArgs,
      ],
      { stdio: 'ignore' },
    );
    this.#child = child;
    running.add(child);
    child.on('exit', () => {
      running.delete(child);
      if (this.#child === child) this.#child = undefined;
    });
    const deadline = Date.now() + 10_000;
    while (!(await pingRedis(this.url, 200))) {
      if (!this.#child) throw new Error(`redis-server exited while starting on port ${this.port}`);
      if (Date.now() > deadline)
        throw new Error(`redis-server did not answer on port ${this.port}`);
      await sleep(20);
    }
  }

  /** Kills the process (SIGKILL by default) and waits until it is gone. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (!child) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }
}

/**
 * A TCP proxy in front of a Redis port. `blackhole()` makes it hold every byte in both directions
 * without closing anything, like a network partition: the client sees a connected socket that
 * never answers. `blackhole(false)` heals the link and delivers what was held, in order, as TCP
 * retransmission would.
 */
export class TcpProxy {
  readonly port: number;
  #server: net.Server;
  #sockets = new Set<net.Socket>();
  #held = new Map<net.Socket, Buffer[]>();
  #blackholed = false;

  private constructor(port: number, server: net.Server) {
    this.port = port;
    this.#server = server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new TcpProxy((server.address() as net.AddressInfo).port, server);
    server.on('connection', (inbound) => proxy.#pipe(inbound, targetPort));
    return proxy;
  }

  #pipe(inbound: net.Socket, targetPort: number): void {
    const outbound = net.connect({ host: '127.0.0.1', port: targetPort });
    for (const socket of [inbound, outbound]) {
      this.#sockets.add(socket);
      this.#held.set(socket, []);
    }
    const forward = (to: net.Socket) => (chunk: Buffer) => {
      if (this.#blackholed) this.#held.get(to)?.push(chunk);
      else to.write(chunk);
    };
    inbound.on('data', forward(outbound));
    outbound.on('data', forward(inbound));
    const close = () => {
      for (const socket of [inbound, outbound]) {
        socket.destroy();
        this.#sockets.delete(socket);
        this.#held.delete(socket);
      }
    };
    for (const socket of [inbound, outbound]) {
      socket.on('close', close);
      socket.on('error', close);
    }
  }

  blackhole(on = true): void {
    this.#blackholed = on;
    if (on) return;
    for (const [socket, chunks] of this.#held) {
      for (const chunk of chunks.splice(0)) socket.write(chunk);
    }
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

/** Deletes every key matching `prefix*` (also the non-session keys a test planted). */
export async function deleteKeys(
  raw: (...args: string[]) => Promise<unknown>,
  prefix: string,
): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = (await raw(
      'SCAN',
      cursor,
      'MATCH',
      `${escapeGlob(prefix)}*`,
      'COUNT',
      '500',
    )) as [string, string[]];
    cursor = next;
    for (const key of keys) await raw('DEL', key);
  } while (cursor !== '0');
}

/** A connection to Redis (the shared one unless told) whose client records each command the store sends. */
export interface RecordingConnection {
  /** The client to give the store: it records, then sends. */
  client: RedisClientLike;
  /** Sends a command past the recording (for the test's own setup and checks). */
  raw(...args: string[]): Promise<unknown>;
  /** The names of the commands sent through `client` so far (`EVALSHA` for a script). */
  readonly commands: string[];
  /** The names of the commands sent since the last `take`, taken out of `commands`. */
  take(): string[];
  /** Most commands awaiting their reply at once since the last call (1: one round trip each). */
  peak(): number;
  quit(): Promise<void>;
}

/** A recording connection through node-redis (`createClient`) or ioredis (`new Redis`). */
export async function recordingConnection(
  library: 'node-redis' | 'ioredis',
  url = REDIS_URL,
): Promise<RecordingConnection> {
  const commands: string[] = [];
  let pending = 0;
  let most = 0;
  const record = (name: string, reply: Promise<unknown>) => {
    commands.push(name);
    most = Math.max(most, ++pending);
    const settled = () => {
      pending--;
    };
    reply.then(settled, settled);
    return reply;
  };
  const peak = () => {
    const seen = most;
    most = pending;
    return seen;
  };
  if (library === 'node-redis') {
    const client = createClient({ url, disableOfflineQueue: true });
    client.on('error', () => {});
    await client.connect();
    return {
      client: {
        sendCommand: (args: string[]) => record(args[0]!, client.sendCommand(args)),
      },
      raw: (...args) => client.sendCommand(args),
      commands,
      take: () => commands.splice(0),
      peak,
      quit: async () => {
        await client.close();
      },
    };
  }
  const client = new Redis(url, { enableOfflineQueue: false, lazyConnect: true });
  client.on('error', () => {});
  await client.connect();
  return {
    client: {
      call: (command: string, ...args: string[]) => record(command, client.call(command, ...args)),
    },
    raw: (command, ...args) => client.call(command!, ...args),
    commands,
    take: () => commands.splice(0),
    peak,
    quit: async () => {
      await client.quit();
    },
  };
}
