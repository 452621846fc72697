/** The expiry arithmetic, as plain functions: idle lifetime, absolute cap, sanity, renewal. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLOCK_SKEW_MS, expiryFor, isLive, renewalDue } from '../src/expiry.js';

const NOW = 1_700_000_000_000;
const DAY = 86_400_000;
const idleOnly = { maxAge: DAY, absoluteTimeout: undefined };
const capped = { maxAge: DAY, absoluteTimeout: 3 * DAY };

describe('expiryFor', () => {
  it('is now + maxAge without an absolute cap, whatever the age', () => {
    assert.equal(expiryFor(idleOnly, NOW - 100 * DAY, NOW), NOW + DAY);
  });
  it('never passes createdAt + absoluteTimeout', () => {
    assert.equal(expiryFor(capped, NOW, NOW), NOW + DAY);
    assert.equal(expiryFor(capped, NOW - 2.5 * DAY, NOW), NOW + 0.5 * DAY);
    assert.equal(expiryFor(capped, NOW - 4 * DAY, NOW), NOW - DAY);
  });
});

describe('isLive', () => {
  const live = { createdAt: NOW - DAY / 2, expiresAt: NOW + DAY / 2 };
  it('accepts a session within its lifetimes', () => {
    assert.equal(isLive(idleOnly, live, NOW), true);
    assert.equal(isLive(capped, live, NOW), true);
  });
  it('refuses an expired session, at the exact expiry too', () => {
    assert.equal(isLive(idleOnly, { ...live, expiresAt: NOW }, NOW), false);
    assert.equal(isLive(idleOnly, { ...live, expiresAt: NOW - 1 }, NOW), false);
  });
  it('refuses non-finite times', () => {
    assert.equal(isLive(idleOnly, { ...live, createdAt: Number.NaN }, NOW), false);
    assert.equal(isLive(idleOnly, { ...live, expiresAt: Number.POSITIVE_INFINITY }, NOW), false);
  });
  it('refuses a createdAt in the future beyond the clock skew, and allows it within', () => {
    assert.equal(isLive(idleOnly, { ...live, createdAt: NOW + CLOCK_SKEW_MS + 1 }, NOW), false);
    assert.equal(isLive(idleOnly, { ...live, createdAt: NOW + CLOCK_SKEW_MS }, NOW), true);
  });
  it('refuses an expiry further away than maxAge (plus the skew) allows', () => {
    const far = NOW + DAY + CLOCK_SKEW_MS;
    assert.equal(isLive(idleOnly, { ...live, expiresAt: far }, NOW), true);
    assert.equal(isLive(idleOnly, { ...live, expiresAt: far + 1 }, NOW), false);
  });
  it('refuses a session past its absolute cap even when its stored expiry is ahead', () => {
    const old = { createdAt: NOW - 3 * DAY, expiresAt: NOW + DAY / 2 };
    assert.equal(isLive(capped, old, NOW), false);
    assert.equal(isLive(idleOnly, old, NOW), true);
  });
});

describe('renewalDue', () => {
  it('is due when the new expiry gains at least touchAfter', () => {
    assert.equal(renewalDue(NOW + 1000, NOW, 1000), true);
    assert.equal(renewalDue(NOW + 999, NOW, 1000), false);
    assert.equal(renewalDue(NOW, NOW, 0), true);
    assert.equal(renewalDue(NOW - 1, NOW, 0), false);
  });
});
