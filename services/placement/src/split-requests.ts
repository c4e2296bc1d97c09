import { SynodError } from '@synod/codec';
import type { SendAction, StepResult } from '@synod/placement';
import type { Bus } from '@synod/transport';

/**
 * Carries one executor request to a node or to a split's leader (docs/placement.md, "Op steps").
 * For the leader: the last replica that answered first, then the candidates in turn, following
 * NOT_LEADER hints as the client does (libs/client); at most 2 × candidates attempts.
 */
export class SplitRequester {
  private readonly leaders = new Map<string, string>();

  constructor(
    private readonly bus: Bus,
    private readonly timeoutMs: number,
  ) {}

  async send(a: SendAction): Promise<StepResult> {
    if (a.target.kind === 'node') return this.once(a.target.node, a);
    const candidates = a.target.candidates;
    const queue = [...new Set([this.leaders.get(a.group), ...candidates].filter((n): n is string => n !== undefined && candidates.includes(n)))];
    let last: StepResult & { hint?: string } = { ok: false, code: 'UNAVAILABLE', message: `no replica of ${a.group} to ask` };
    for (let i = 0; i < candidates.length * 2 && queue.length > 0; i++) {
      const node = queue.shift()!;
      last = await this.once(node, a);
      if (last.ok) {
        this.leaders.set(a.group, node);
        return last;
      }
      if (!['NOT_LEADER', 'UNAVAILABLE', 'TIMEOUT'].includes(last.code)) return last;
      const hint = last.ok ? undefined : last.hint;
      if (hint !== undefined && candidates.includes(hint) && hint !== node) queue.unshift(hint);
      else if (!queue.includes(node)) queue.push(node);
    }
    this.leaders.delete(a.group);
    return last;
  }

  private async once(node: string, a: SendAction): Promise<StepResult & { hint?: string }> {
    try {
      const reply = await this.bus.request(node, a.request.kind, a.request.body, { group: a.group, timeoutMs: this.timeoutMs });
      if (reply.kind !== 'split.op-done') return { ok: false, code: 'INTERNAL', message: `${node} answered ${a.request.kind} with ${reply.kind}` };
      const body = reply.body as { detail: Record<string, string | number> };
      return { ok: true, detail: body.detail };
    } catch (err) {
      if (!(err instanceof SynodError)) throw err;
      const leader = err.hint?.leader;
      return { ok: false, code: err.code, message: err.message, ...(typeof leader === 'string' ? { hint: leader } : {}) };
    }
  }
}
