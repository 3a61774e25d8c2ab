import { ValueError } from '@var/core';

/** @throws ValueError unless `i` is an integer index of `ds` (0 ≤ i < length). */
export function assertIndex(ds: { length: number; name: string }, i: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= ds.length) {
    throw new ValueError(`${ds.name}: index must be an integer in 0…${ds.length - 1}; got ${i}`);
  }
}
