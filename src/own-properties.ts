/**
 * Adding properties to Express's `req` and `res` cheaply. Express replaces their prototype
 * (`Object.setPrototypeOf(req, app.request)`), and V8 shares no hidden classes between objects
 * whose prototype was replaced: every property then added to one of them builds a hidden class
 * of its own (about 2 µs), and every property read after it misses V8's caches once more. The
 * session middleware adds its own (its state, `req.sessionID`; the drop-in also `req.session`,
 * `req.sessionStore`, `res.writeHead`, `res.end`), and Express and the application add more
 * after it. Adding and deleting one scratch property first turns the object into a hash table
 * (V8's dictionary mode) in one step: later additions are hash inserts and later reads hit V8's
 * caches (in process over Express: a drop-in visit over MemoryStore about a quarter less CPU,
 * the native middleware's visit 89 → 63 µs). `toExpressStore` takes the same step when
 * express-session hands it a request to load a session into: express-session has added its first
 * properties by then, but `req.session` and everything Express's router and the application add
 * come after (express-session over `toExpressStore(FileStore)`: ~15 % less CPU per visit).
 * Nothing else can see the scratch property: it is gone before any other code runs. Objects
 * that still have Node's own prototype (plain `node:http`) share hidden classes and are left as
 * they are: there the step would cost more than it saves.
 */

const SCRATCH: unique symbol = Symbol('session-store-js.scratch');

/**
 * Prepares `target` (a request or response) for the properties the middleware adds, unless its
 * prototype is still `nodePrototype` (`IncomingMessage.prototype`, `ServerResponse.prototype`).
 */
export function prepareForProperties(target: object, nodePrototype: object): void {
  if (Object.getPrototypeOf(target) === nodePrototype) return;
  const scratch = target as { [SCRATCH]?: undefined };
  scratch[SCRATCH] = undefined;
  delete scratch[SCRATCH];
}
