/**
 * The one set of option checks used by the SessionManager and every store, so the same kind of
 * option follows the same rule everywhere and every refusal reads the same:
 * `<option> must be <what is accepted>, got <what was given>` (the `session-store-js:` prefix is
 * added by `SessionError`). Each check returns the value, or `fallback` when the option is
 * `undefined`; it throws `InvalidOptionError` otherwise.
 */
import { InvalidOptionError } from './errors.js';

/** Node turns a timer delay over 2^31 - 1 ms into 1 ms, which would make a busy loop. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Ten years: far beyond any browser's cookie cap (400 days), far inside the Date range. */
export const MAX_LIFETIME_MS = 315_360_000_000;

/**
 * How a refused value is shown: numbers, booleans, `null` and `undefined` as written, strings
 * quoted and cut at 40 characters, anything else by its kind (never its content, which may hold
 * a secret or a client with credentials).
 */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' && name !== 'Object' ? `an object (${name})` : 'an object';
  }
  return typeof value;
}

/**
 * Throws the refusal of `option`. `shown` replaces the value in the message where the value
 * must not be echoed (a secret, a key).
 */
export function refuse(
  option: string,
  expected: string,
  value: unknown,
  shown = describeValue(value),
): never {
  throw new InvalidOptionError(`${option} must be ${expected}, got ${shown}`);
}

/** An options object; `undefined` reads as `{}`. */
export function optionsObject<T extends object>(option: string, value: T | undefined): T {
  if (value === undefined) return {} as T;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    refuse(option, 'an object', value);
  }
  return value;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** A session lifetime in ms: finite, above 0, at most ten years. */
export function lifetimeMs<F extends number | undefined>(
  option: string,
  value: unknown,
  fallback: F,
): number | F {
  if (value === undefined) return fallback;
  if (!isFiniteNumber(value) || value <= 0 || value > MAX_LIFETIME_MS) {
    refuse(
      option,
      `a number of milliseconds above 0 and at most ${MAX_LIFETIME_MS} (ten years)`,
      value,
    );
  }
  return value;
}

/** A session lifetime in seconds (a store's `ttl`): finite, above 0, at most ten years. */
export function lifetimeSeconds(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (!isFiniteNumber(value) || value <= 0 || value > MAX_LIFETIME_MS / 1000) {
    refuse(
      option,
      `a number of seconds above 0 and at most ${MAX_LIFETIME_MS / 1000} (ten years)`,
      value,
    );
  }
  return value;
}

/** A span of ms that may be 0 (a throttle, a grace period): finite, 0 or more. */
export function nonNegativeMs(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (!isFiniteNumber(value) || value < 0) {
    refuse(option, 'a number of milliseconds, 0 or more', value);
  }
  return value;
}

/**
 * A timer period in ms: an integer from `min` to 2^31 - 1 (Node's timer limit). With `min` 0,
 * `0` means "no timer".
 */
export function intervalMs(option: string, value: unknown, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > MAX_TIMER_MS) {
    const off = min === 0 ? ' (0 turns it off)' : '';
    refuse(option, `an integer number of milliseconds from ${min} to ${MAX_TIMER_MS}${off}`, value);
  }
  return value as number;
}

/** A count or a size: an integer from 1 to `max`; `unit` names what is counted. */
export function positiveInteger<F extends number | undefined>(
  option: string,
  value: unknown,
  fallback: F,
  max: number,
  unit = '',
): number | F {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > max) {
    refuse(option, `an integer${unit ? ` number of ${unit}` : ''} from 1 to ${max}`, value);
  }
  return value as number;
}

export function boolean(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') refuse(option, 'a boolean', value);
  return value;
}

/** One of a few strings (at least two: a single choice is a constant, not an option). */
export function oneOf<const T extends readonly [string, string, ...string[]]>(
  option: string,
  value: unknown,
  fallback: T[number],
  choices: T,
): T[number] {
  if (value === undefined) return fallback;
  if (!(choices as readonly unknown[]).includes(value)) {
    const list = choices.map((c) => `'${c}'`);
    refuse(option, `${list.slice(0, -1).join(', ')} or ${list.at(-1)}`, value);
  }
  return value as T[number];
}

/** A callback, or `undefined` when none is given. */
export function optionalFunction<F extends (...args: never[]) => unknown>(
  option: string,
  value: unknown,
): F | undefined {
  if (value !== undefined && typeof value !== 'function') refuse(option, 'a function', value);
  return value as F | undefined;
}

/** A non-empty string of at most `maxLength` characters. */
export function nonEmptyString(
  option: string,
  value: unknown,
  fallback: string,
  maxLength: number,
): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    refuse(option, `a non-empty string of at most ${maxLength} characters`, value);
  }
  return value;
}
