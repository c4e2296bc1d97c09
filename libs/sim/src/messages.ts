import type { Command, PaxosMessage } from '@synod/paxos';

/** Everything that travels over the simulated network. */
export type SimPayload =
  | { kind: 'paxos'; msg: PaxosMessage }
  | { kind: 'propose'; group: string; cmd: Command }
  | { kind: 'reply'; id: string; ok: boolean; leaderHint: string | null }
  | { kind: 'read'; group: string; id: string; key: string }
  | { kind: 'readReply'; id: string; ok: boolean; value: number; leaderHint: string | null }
  /** A node's beat to another node: the node-level liveness quiescent groups rely on. */
  | { kind: 'beat' };

export function describePayload(p: SimPayload): string {
  switch (p.kind) {
    case 'paxos': {
      const m = p.msg;
      const b = 'ballot' in m ? ` b=${m.ballot.round}.${m.ballot.node}` : '';
      return `${m.group}:${m.type}${b}`;
    }
    case 'propose':
      return `${p.group}:propose ${p.cmd.id}`;
    case 'reply':
      return `reply ${p.id} ${p.ok ? 'ok' : `not_leader hint=${p.leaderHint}`}`;
    case 'read':
      return `${p.group}:read ${p.id} ${p.key}`;
    case 'readReply':
      return `readReply ${p.id} ${p.ok ? `=${p.value}` : `not_leader hint=${p.leaderHint}`}`;
    case 'beat':
      return 'beat';
  }
}
