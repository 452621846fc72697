// The per-user sessions example from the README: sign in as any user name (no password store in
// a demo), see "your devices" (every session of that user, this one marked), revoke one, or log
// out everywhere else. Plain server-rendered HTML, every value escaped; each state-changing action
// is a POST carrying a CSRF token kept in the session. Run it with `npm run start:devices`
// (PORT overrides 3000) and sign in from two browsers.
const { randomBytes, timingSafeEqual } = require('node:crypto');
const express = require('express');
const SessionManager = require('session-store-js');

const app = express();
app.use(express.urlencoded({ extended: false, limit: '2kb' }));

const sessions = new SessionManager({
  storeType: 'memory',
  secret: process.env.SESSION_SECRET || 'dev-only secret: set SESSION_SECRET in production',
  maxAge: 3600000, // idle lifetime: 1 hour
  maxSessionsPerUser: 10, // an 11th sign-in ends the session idle the longest
});

app.use(sessions.middleware());

const html = (text) =>
  String(text).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
const time = (ms) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

function page(title, body) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${html(title)}</title></head><body>${body}</body></html>`;
}

/** The session's CSRF token, made on first use. */
async function csrfToken(req) {
  let token = await sessions.get(req, 'csrf');
  if (!token) {
    token = randomBytes(24).toString('base64url');
    await sessions.set(req, 'csrf', token);
  }
  return token;
}

/** Refuses a POST whose form token is not the session's. */
async function checkCsrf(req, res, next) {
  try {
    const expected = await sessions.get(req, 'csrf');
    const given = typeof req.body?.csrf === 'string' ? req.body.csrf : '';
    const ok =
      typeof expected === 'string' &&
      given.length === expected.length &&
      timingSafeEqual(Buffer.from(given), Buffer.from(expected));
    if (!ok)
      return res.status(403).send(page('Forbidden', '<p>Invalid or missing CSRF token.</p>'));
    next();
  } catch (error) {
    next(error);
  }
}

const hidden = (token) => `<input type="hidden" name="csrf" value="${html(token)}">`;

app.get('/', async (req, res, next) => {
  try {
    const user = sessions.userId(req);
    const token = await csrfToken(req);
    if (!user) {
      return res.send(
        page(
          'Sign in',
          `<h1>Sign in</h1><form method="post" action="/login">${hidden(token)}
<label>User name <input name="user" maxlength="64" required></label> <button>Sign in</button></form>`,
        ),
      );
    }
    const devices = await sessions.listUserSessions(user, { current: req });
    const rows = devices
      .map(
        (
          d,
        ) => `<tr><td>${html(d.meta.userAgent ?? 'unknown')}${d.current ? ' <strong>(this device)</strong>' : ''}</td>
<td>${time(d.createdAt)}</td><td>${time(d.lastSeenAt)}</td><td>${
          d.current
            ? ''
            : `<form method="post" action="/devices/revoke">${hidden(token)}<input type="hidden" name="handle" value="${html(d.handle)}"><button>Revoke</button></form>`
        }</td></tr>`,
      )
      .join('\n');
    res.send(
      page(
        'Your devices',
        `<h1>Your devices, ${html(user)}</h1>
<table><thead><tr><th>Device</th><th>Signed in</th><th>Last seen</th><th></th></tr></thead>
<tbody>
${rows}
</tbody></table>
<form method="post" action="/devices/logout-others">${hidden(token)}<button>Log out everywhere else</button></form>
<form method="post" action="/logout">${hidden(token)}<button>Log out</button></form>`,
      ),
    );
  } catch (error) {
    next(error);
  }
});

app.post('/login', checkCsrf, async (req, res, next) => {
  try {
    const user = String(req.body.user ?? '').trim();
    if (!user || user.length > 64)
      return res.status(400).send(page('Sign in', '<p>Give a user name.</p>'));
    // A new session id at login (fixation-safe), bound to the user; the old one is destroyed.
    await sessions.regenerate(req, {
      user,
      meta: { userAgent: String(req.get('user-agent') ?? '').slice(0, 200) },
    });
    await csrfToken(req);
    res.redirect(303, '/');
  } catch (error) {
    next(error);
  }
});

app.post('/devices/revoke', checkCsrf, async (req, res, next) => {
  try {
    const user = sessions.userId(req);
    if (!user) return res.redirect(303, '/');
    await sessions.destroyUserSession(user, String(req.body.handle ?? ''));
    res.redirect(303, '/');
  } catch (error) {
    next(error);
  }
});

app.post('/devices/logout-others', checkCsrf, async (req, res, next) => {
  try {
    const user = sessions.userId(req);
    if (user) await sessions.destroyUserSessions(user, { except: req });
    res.redirect(303, '/');
  } catch (error) {
    next(error);
  }
});

app.post('/logout', checkCsrf, async (req, res, next) => {
  try {
    await sessions.destroy(req);
    res.redirect(303, '/');
  } catch (error) {
    next(error);
  }
});

app.use((error, req, res, _next) => {
  res.status(error.status || 500).send(page('Error', `<p>${html(error.message)}</p>`));
});

const server = app.listen(process.env.PORT ?? 3000, () => {
  console.log(`Devices example listening on http://localhost:${server.address().port}`);
});
