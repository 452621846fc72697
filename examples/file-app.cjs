// The FileStore example from the README: sessions on disk that survive a restart.
// Run it with `npm run start:file` (PORT overrides 3001).
const express = require('express');
const SessionManager = require('session-store-js');

const app = express();

const sessionManager = new SessionManager({
  storeType: 'file',
  storeOptions: {
    path: process.env.SESSION_DIR || './sessions', // one 0600 file per session, in a 0700 directory
    ttl: 3600, // seconds: keep a session at most 1 hour after its last write
  },
  secret: process.env.SESSION_SECRET || 'dev-only secret: set SESSION_SECRET in production',
  cookieName: 'custom.sid',
  maxAge: 3600000,
});

app.use(sessionManager.middleware());

app.get('/', async (req, res) => {
  const visits = ((await sessionManager.get(req, 'visits')) || 0) + 1;
  await sessionManager.set(req, 'visits', visits);
  res.send(`Visits: ${visits}`);
});

app.get('/touch', async (req, res) => {
  const touched = await sessionManager.touch(req);
  res.send(touched ? 'Session touched' : 'No session to touch');
});

app.get('/logout', async (req, res) => {
  await sessionManager.destroy(req);
  res.send('Logged out');
});

// Demo only: never expose every session in a real app.
app.get('/all-sessions', async (req, res) => {
  res.json(await sessionManager.getAllSessions());
});

app.get('/clear-all', async (req, res) => {
  await sessionManager.clearAllSessions();
  res.send('All sessions cleared');
});

app.get('/ensure-directory', async (req, res) => {
  await sessionManager.store.ensureDirectory();
  res.send('Session directory ready');
});

// Demo only: shows where this visitor's session lives on disk.
app.get('/file-path', (req, res) => {
  if (!req.sessionID) {
    res.status(404).send('No session yet: visit / first');
    return;
  }
  res.send(sessionManager.store._getFilePath(req.sessionID));
});

const server = app.listen(process.env.PORT ?? 3001, () => {
  console.log(`FileStore example listening on http://localhost:${server.address().port}`);
});
