/**
 * The date strings of the express-session cookie, for the second in progress: `toISOString` for
 * the `expires` a loaded session carries, its parse when the drop-in builds the session from it,
 * and `toUTCString` for `Set-Cookie`. Requests of the same second share the formatting work of
 * the first (one cached second each); results are exactly `Date`'s.
 */

let isoSecond = Number.NaN;
/** `YYYY-MM-DDTHH:mm:ss.` of `isoSecond`. */
let isoPrefix = '';
/** The last string `isoString` made, and its time. */
let lastIso = '';
let lastIsoTime = Number.NaN;
let utcSecond = Number.NaN;
let utcText = '';

/** `new Date(ms).toISOString()`, for a time within `Date`'s range (NaN throws, as it does). */
export function isoString(ms: number): string {
  const time = Math.trunc(ms);
  const second = Math.floor(time / 1000);
  if (second !== isoSecond) {
    isoPrefix = new Date(second * 1000).toISOString().slice(0, -4);
    isoSecond = second;
  }
  const milli = time - second * 1000;
  lastIso = `${isoPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
  lastIsoTime = time;
  return lastIso;
}

/** `Date.parse(text)`; the string `isoString` just made needs no parsing. */
export function parseIso(text: string): number {
  return text === lastIso ? lastIsoTime : Date.parse(text);
}

/** `date.toUTCString()` of a valid `Date` (second precision, so one string per second). */
export function utcString(date: Date): string {
  const second = Math.floor(date.getTime() / 1000);
  if (second !== utcSecond) {
    utcText = Date.prototype.toUTCString.call(date);
    utcSecond = second;
  }
  return utcText;
}
