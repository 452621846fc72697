/**
 * Runs an app from `examples/` as a user would: `node examples/<app>.cjs` in a child process on
 * a free port (PORT=0), requiring the built package (`require('session-store-js')` → dist/).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

export const root = resolve(import.meta.dirname, '../..');

export interface RunningExample {
  child: ChildProcess;
  base: string;
  stop(): Promise<void>;
}

/** Fails clearly when the package is not built, since the examples require it by name. */
export function assertBuilt(example: string): void {
  const require = createRequire(resolve(root, example));
  let resolved: string;
  try {
    resolved = require.resolve('session-store-js');
  } catch (error) {
    throw new Error(
      `require('session-store-js') does not resolve (${(error as Error).message}); build the package first: npx tshy (npm test does this)`,
    );
  }
  assert.ok(
    existsSync(resolved) && resolved.includes(`${root}/dist/`),
    `session-store-js resolves to ${resolved}, not to a build in dist/: run npx tshy first (npm test does this)`,
  );
}

/** Starts `example` with PORT=0 and resolves once it prints its "listening on" line. */
export function startExample(
  example: string,
  env: Record<string, string> = {},
): Promise<RunningExample> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [resolve(root, example)], {
      cwd: root,
      env: { ...process.env, PORT: '0', NODE_ENV: 'development', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`the example did not start within 15 s\nstdout: ${stdout}\nstderr: ${stderr}`),
      );
    }, 15_000);
    const stop = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
    };
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const match = /listening on http:\/\/localhost:(\d+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolvePromise({ child, base: `http://127.0.0.1:${match[1]}`, stop });
      }
    });
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the example exited (${code ?? signal}) before listening\n${stderr}`));
    });
  });
}
