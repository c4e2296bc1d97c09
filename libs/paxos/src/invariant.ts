/**
 * A broken protocol invariant. The replica throws this instead of limping on
 * (DESIGN §3.6); the process hosting it is expected to stop.
 */
export class InvariantViolation extends Error {
  constructor(
    readonly invariant: string,
    detail: string,
  ) {
    super(`invariant violated: ${invariant}: ${detail}`);
    this.name = 'InvariantViolation';
  }
}

export function invariant(cond: boolean, name: string, detail: () => string): asserts cond {
  if (!cond) throw new InvariantViolation(name, detail());
}
