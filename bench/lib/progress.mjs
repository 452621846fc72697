// Progress on stderr: which phase, round, contestant and workload runs, and the time left.
//
// The estimate starts from a per-step guess (seconds) and is replaced by the measured average of
// the steps done so far, per kind of step, as soon as there is one.

const clock = (seconds) => {
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
};

export class Progress {
  #started = Date.now();
  /** kind → { guess, left, doneSeconds, done } */
  #kinds = new Map();
  #current;
  #out;

  constructor(out = process.stderr) {
    this.#out = out;
  }

  /** Announces `count` steps of `kind`, each estimated at `guessSeconds`. */
  plan(kind, count, guessSeconds) {
    const k = this.#kinds.get(kind) ?? { guess: guessSeconds, left: 0, doneSeconds: 0, done: 0 };
    k.left += count;
    this.#kinds.set(kind, k);
  }

  /** Seconds the planned steps still need, by the best estimate so far. */
  remaining() {
    let seconds = 0;
    for (const k of this.#kinds.values()) {
      const each = k.done > 0 ? k.doneSeconds / k.done : k.guess;
      seconds += k.left * each;
    }
    if (this.#current) {
      const k = this.#kinds.get(this.#current.kind);
      const each = k && k.done > 0 ? k.doneSeconds / k.done : (k?.guess ?? 0);
      seconds -= Math.min(each, (Date.now() - this.#current.at) / 1000);
    }
    return Math.max(0, seconds);
  }

  /** Starts a step of `kind`; `what` says what runs. Ends the previous step. */
  start(kind, what) {
    this.end();
    this.#current = { kind, at: Date.now() };
    const elapsed = (Date.now() - this.#started) / 1000;
    this.#out.write(`[${clock(elapsed)} elapsed, ~${clock(this.remaining())} left] ${what}\n`);
  }

  /** Ends the step in progress (if any) and records its duration. */
  end() {
    const current = this.#current;
    if (!current) return;
    this.#current = undefined;
    const k = this.#kinds.get(current.kind);
    if (!k) return;
    k.left = Math.max(0, k.left - 1);
    k.done++;
    k.doneSeconds += (Date.now() - current.at) / 1000;
  }

  /** A line of its own (a result, a warning), without touching the estimate. */
  note(message) {
    this.#out.write(`${message}\n`);
  }

  elapsedSeconds() {
    return (Date.now() - this.#started) / 1000;
  }
}
