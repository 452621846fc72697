/**
 * The per-user sessions example (`npm run start:devices`) as a user runs it: a child process on
 * a free port, three browsers (cookie jars) signing in as one user, the "your devices" page,
 * revoking one device, logging out everywhere else, and CSRF tokens on every POST. It requires
 * the built package, so `npx tshy` (or `npm test`) must have run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertBuilt, type RunningExample, startExample } from './helpers/example.js';
import { Client, type Reply } from './helpers/http.js';

const EXAMPLE = 'examples/devices-app.cjs';

function csrfOf(reply: Reply): string {
  const match = /name="csrf" value="([^"]+)"/.exec(reply.body);
  assert.ok(match, `a CSRF field in: ${reply.body}`);
  return match[1]!;
}

function handlesOf(html: string): string[] {
  return [...html.matchAll(/name="handle" value="([^"]+)"/g)].map((m) => m[1]!);
}

class Browser {
  readonly client: Client;
  readonly agent: string;
  constructor(base: string, agent: string) {
    this.client = new Client(base);
    this.agent = agent;
  }
  home(): Promise<Reply> {
    return this.client.get('/', { 'user-agent': this.agent });
  }
  post(path: string, form: Record<string, string>): Promise<Reply> {
    return this.client.request(path, {
      method: 'POST',
      headers: { 'user-agent': this.agent, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
  }
  async signIn(user: string): Promise<void> {
    const csrf = csrfOf(await this.home());
    const reply = await this.post('/login', { csrf, user });
    assert.equal(reply.status, 303);
  }
  async act(path: string, form: Record<string, string> = {}): Promise<Reply> {
    const csrf = csrfOf(await this.home());
    return this.post(path, { csrf, ...form });
  }
  sessionId(): string {
    return /^s:([^.]*)\./.exec(decodeURIComponent(this.client.jar.get('sid') ?? ''))![1]!;
  }
}

describe('examples/devices-app.cjs over HTTP', () => {
  let app: RunningExample;
  before(async () => {
    assertBuilt(EXAMPLE);
    app = await startExample(EXAMPLE);
  });
  after(() => app?.stop());

  it('lists the devices of a user, revokes one, and logs out everywhere else', async () => {
    const phone = new Browser(app.base, 'Phone <script>alert(1)</script>');
    const laptop = new Browser(app.base, 'Laptop "quoted" & more');
    const tablet = new Browser(app.base, 'Tablet');
    for (const b of [phone, laptop, tablet]) await b.signIn('alice');
    const mallory = new Browser(app.base, 'Other');
    await mallory.signIn('mallory');

    const page = (await phone.home()).body;
    assert.match(page, /Your devices, alice/);
    assert.equal(page.match(/\(this device\)/g)?.length, 1);
    assert.match(page, /Phone &lt;script&gt;alert\(1\)&lt;\/script&gt; <strong>\(this device\)/);
    assert.ok(!page.includes('<script>'), 'user agents are escaped');
    assert.match(page, /Laptop &quot;quoted&quot; &amp; more/);
    assert.ok(!page.includes('Other'), "another user's device is not listed");
    const handles = handlesOf(page);
    assert.equal(handles.length, 2, 'a revoke button for each other device');
    for (const b of [phone, laptop, tablet]) {
      assert.ok(!page.includes(b.sessionId()), 'no session id on the page');
    }

    // Revoke the laptop from the phone: find its row by its user agent.
    const row = page.split('<tr>').find((r) => r.includes('Laptop'))!;
    const handle = handlesOf(row)[0]!;
    assert.equal((await phone.act('/devices/revoke', { handle })).status, 303);
    assert.match((await laptop.home()).body, /<h1>Sign in<\/h1>/, 'the laptop is signed out');
    assert.match((await tablet.home()).body, /Your devices, alice/, 'the tablet is not');
    assert.equal(handlesOf((await phone.home()).body).length, 1);

    // A handle of another user's session does nothing.
    const malloryHandle = handlesOf((await mallory.home()).body);
    assert.equal(malloryHandle.length, 0);
    await phone.act('/devices/revoke', { handle: handles.join('') });
    assert.match((await tablet.home()).body, /Your devices, alice/);

    assert.equal((await phone.act('/devices/logout-others')).status, 303);
    assert.match((await tablet.home()).body, /<h1>Sign in<\/h1>/);
    const after = (await phone.home()).body;
    assert.match(after, /Your devices, alice/);
    assert.equal(handlesOf(after).length, 0, 'only this device is left');
    assert.match((await mallory.home()).body, /Your devices, mallory/, 'other users untouched');
  });

  it('refuses a POST without the session’s CSRF token', async () => {
    const browser = new Browser(app.base, 'Victim');
    await browser.signIn('victor');
    const forged = await browser.post('/devices/logout-others', { csrf: 'x'.repeat(32) });
    assert.equal(forged.status, 403);
    const missing = await browser.post('/logout', {});
    assert.equal(missing.status, 403);
    const stranger = new Browser(app.base, 'Stranger');
    const token = csrfOf(await stranger.home());
    assert.equal(
      (await browser.post('/logout', { csrf: token })).status,
      403,
      "another session's token",
    );
    assert.match((await browser.home()).body, /Your devices, victor/);
    assert.equal((await browser.act('/logout')).status, 303);
    assert.match((await browser.home()).body, /<h1>Sign in<\/h1>/);
  });
});
