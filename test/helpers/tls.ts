/**
 * HTTPS for the tests: a throw-away self-signed certificate (made once per process by the
 * `openssl` binary; `undefined` without one), a server on port 0 and a GET that accepts it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let made: { key: Buffer; cert: Buffer } | null | undefined;

/** A key and certificate for `localhost`, or `undefined` when `openssl` can't make one. */
export function selfSigned(): { key: Buffer; cert: Buffer } | undefined {
  if (made !== undefined) return made ?? undefined;
  const dir = mkdtempSync(join(tmpdir(), 'ssjs-tls-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
      ].concat(['-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert]),
      { stdio: 'ignore' },
    );
    made = { key: readFileSync(key), cert: readFileSync(cert) };
  } catch {
    made = null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return made ?? undefined;
}

/** Starts `app` over TLS on a free port; `get(path)` resolves the `Set-Cookie` lines. */
export async function listenTls(app: RequestListener) {
  const pair = selfSigned();
  if (!pair) throw new Error('no certificate: openssl is not installed');
  const server = https.createServer(pair, app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    get(path: string): Promise<string[]> {
      return new Promise((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', port, path, rejectUnauthorized: false }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.headers['set-cookie'] ?? []));
          })
          .on('error', reject);
      });
    },
    close(): Promise<void> {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
