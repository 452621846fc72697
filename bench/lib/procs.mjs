// Child-process bookkeeping: every child is tracked and killed on exit, error or signal.
import { spawn, spawnSync } from 'node:child_process';

const children = new Set();

export function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * Writes the file system's dirty data back (`sync -f`, Linux's syncfs) between timed runs. What a
 * run left dirty would otherwise be written back during the next one's window; and on ext4
 * without a journal (this machine) the allocator skips inodes freed recently, 60 s after they
 * were freed when their inode table block is clean but 300 s while it is dirty, so a contestant
 * that frees an inode per write (a temp file renamed over the session file) slowed every file
 * created in the next five minutes, other contestants' too. Measured: creates 70 s after 6,000
 * such writes cost 116–196 µs each, 26–40 µs with a sync right after the writes.
 */
export function writeBack(dir) {
  spawnSync('sync', ['-f', dir], { stdio: 'ignore', timeout: 120_000 });
}

export function killAll(signal = 'SIGKILL') {
  for (const child of children) {
    try {
      child.kill(signal);
    } catch {}
  }
}

/** Resolves when `child` exits; after `ms` sends SIGKILL. */
export function waitExit(child, ms = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Runs `node args…` to completion; resolves { code, stdout, stderr }. `timeoutMs` kills it.
 * stderr is passed through when `inheritStderr`.
 */
export function runNode(args, { env, timeoutMs = 600_000, inheritStderr = true, stdin } = {}) {
  return new Promise((resolve, reject) => {
    const child = track(
      spawn(process.execPath, args, {
        env: { ...process.env, ...env },
        stdio: [stdin ? 'pipe' : 'ignore', 'pipe', inheritStderr ? 'inherit' : 'pipe'],
      }),
    );
    if (stdin) {
      child.stdin.on('error', () => {});
      // `stdin` resolves the text to send once it is known (the child starts meanwhile).
      stdin.then(
        (text) => child.stdin.end(text),
        () => child.kill('SIGKILL'),
      );
    }
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal, stdout, stderr });
    });
  });
}

/** The JSON object printed on the last non-empty stdout line of a child. */
export function lastJson(stdout) {
  const lines = stdout.trim().split('\n').filter(Boolean);
  if (lines.length === 0) throw new Error('child printed nothing');
  return JSON.parse(lines[lines.length - 1]);
}
