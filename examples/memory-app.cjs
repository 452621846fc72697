// The MemoryStore example from the README: a visit counter plus the store's maintenance routes.
// Run it with `npm start` (PORT overrides 3000).
const express = require('express');
const SessionManager = require('session-store-js');

const app = express();

const sessionManager = new SessionManager({
  storeType: 'memory',
  storeOptions: {
    maxAge: 3600000, // keep a session at most 1 hour after its last write
    cleanupInterval: 60000, // remove expired sessions every minute
    indexInterval: 600000, // compact the expiration index every 10 minutes
  },
  secret: process.env.SESSION_SECRET || 'dev-only secret: set SESSION_SECRET in production',
  cookieName: 'custom.sid',
  maxAge: 3600000, // idle lifetime: 1 hour, renewed by set/touch
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

app.get('/start-cleanup', (req, res) => {
  sessionManager.store.startCleanup();
  res.send('Cleanup started');
});

app.get('/stop-cleanup', (req, res) => {
  sessionManager.store.stopCleanup();
  res.send('Cleanup stopped');
});

app.get('/start-index-rebuild', (req, res) => {
  sessionManager.store.startIndexRebuild();
  res.send('Index rebuild started');
});

app.get('/stop-index-rebuild', (req, res) => {
  sessionManager.store.stopIndexRebuild();
  res.send('Index rebuild stopped');
});

const server = app.listen(process.env.PORT ?? 3000, () => {
  console.log(`MemoryStore example listening on http://localhost:${server.address().port}`);
});
