/**
 * The bounded memories of the library (verified cookie values, pending renewals, forwards, file
 * names, cached files, parsed user bindings, user key hashes, user epochs) are plain `Map`s kept
 * in insertion order: setting a key makes it the newest, and when the map is full the oldest
 * entry makes room. No recency bookkeeping on reads: a hit costs one `Map.get`.
 */

/** Sets `key` to `value` as the newest entry of `map`, dropping the oldest when `max` are held. */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) map.delete(map.keys().next().value as K);
  map.set(key, value);
}
