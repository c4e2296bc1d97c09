/**
 * The run's event trace. Every line feeds a running hash (so determinism can
 * be checked cheaply); lines are only kept when asked for.
 */
export class Trace {
  readonly lines: string[] = [];
  private h1 = 0x811c9dc5;
  private h2 = 0x9e3779b9;
  count = 0;

  constructor(private readonly keep: boolean) {}

  record(nowUs: number, line: string): void {
    const s = `${nowUs} ${line}`;
    this.count++;
    let h1 = this.h1;
    let h2 = this.h2;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    }
    h1 = Math.imul(h1 ^ 10, 0x01000193);
    this.h1 = h1 >>> 0;
    this.h2 = (h2 ^ (h2 >>> 13)) >>> 0;
    if (this.keep) this.lines.push(s);
  }

  get hash(): string {
    return this.h1.toString(16).padStart(8, '0') + this.h2.toString(16).padStart(8, '0');
  }
}
