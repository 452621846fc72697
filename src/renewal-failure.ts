/**
 * Where a failed rolling renewal is reported. It has no caller to reject (the request goes on
 * with the session as loaded), so it goes to `onEvent` as `renewal-failed` with the error's code
 * — never the error itself, whose message a third-party store may fill with an id — else to one
 * process warning per manager (a full store would otherwise warn on every request).
 */
import { emitLibraryWarning } from './errors.js';
import type { SessionEvent } from './middleware.js';

/** A reporter for one manager's failed renewals. */
export function renewalFailureReporter(
  onEvent: ((event: SessionEvent) => void) | undefined,
): (error: unknown) => void {
  let warned = false;
  return (error) => {
    const raw = (error as { code?: unknown } | null)?.code;
    const code = typeof raw === 'string' ? raw : 'STORE_UNAVAILABLE';
    if (onEvent) {
      try {
        onEvent({ type: 'renewal-failed', code });
      } catch {
        // An observer must never break a request.
      }
      return;
    }
    if (warned) return;
    warned = true;
    emitLibraryWarning(
      `a rolling renewal failed (${code}); requests go on with the session as loaded`,
      'SESSION_STORE_RENEWAL_FAILED',
    );
  };
}
