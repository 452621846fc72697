// `npm test`: the Node test runner under c8, then the coverage gate on src/ (.c8rc.json: lines and
// branches at least 95 %); the run fails when a test fails or either figure is below the gate. The runner's own closing lines (`# tests`, `# pass`, `# fail`, …)
// are printed last, after the coverage summary, so they stay the last word of the run.
// Usage: node scripts/test.mjs <test files…>
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';

const c8 = new URL('../node_modules/c8/bin/c8.js', import.meta.url).pathname;
const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node scripts/test.mjs <test files…>');
  process.exit(2);
}

/** Runs `args` with node, streaming its output; resolves the exit code and the held-back tail. */
function run(args, { holdSummary = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const held = [];
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      // The runner's closing block starts at the top-level `# tests N` line.
      if (holdSummary && (held.length > 0 || /^# tests \d+/.test(line))) held.push(line);
      else process.stdout.write(`${line}\n`);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      lines.close();
      resolve({ code: code ?? (signal ? 1 : 0), held });
    });
  });
}

rmSync('coverage', { recursive: true, force: true });
const tests = await run(
  [
    c8,
    '--reporter=none',
    'node',
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    // V8 coverage slows the heaviest files (100,000-file cleanup) past the plain run's 180 s.
    '--test-timeout=600000',
    ...files,
  ],
  { holdSummary: true },
);
process.stdout.write('\n# coverage of src/ (gate: lines and branches at least 95 %)\n');
const report = await run([c8, 'report']);
const gate = await run([c8, 'check-coverage']);
if (gate.code !== 0) process.stdout.write('# coverage gate FAILED: below the thresholds above\n');
for (const line of tests.held) process.stdout.write(`${line}\n`);
process.exit(tests.code !== 0 ? tests.code : report.code || gate.code);
