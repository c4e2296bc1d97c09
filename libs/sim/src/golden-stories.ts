import { fileURLToPath } from 'node:url';
import type { ReplicaConfig } from '@synod/paxos';
import { GoldenWorld, type GoldenWorldOptions } from './golden.js';

/**
 * The core's protocol stories as scripts over a GoldenWorld. Each one's trace is kept in
 * `libs/sim/testdata/golden/<name>.trace` and compared by golden.test.ts.
 */
export interface GoldenStory {
  name: string;
  /** What the story shows (first lines of the file's header). */
  shows: string[];
  /** What to look for in the trace. */
  lookFor: string[];
  world: GoldenWorldOptions;
  script(w: GoldenWorld): void;
  /**
   * A change of the replicas' behaviour (a feature off, a deliberately broken variant) under which
   * this story's trace must differ from its golden file: golden.test.ts checks that it does.
   */
  teeth?: { config: Partial<ReplicaConfig>; why: string };
}

const ABC = ['a', 'b', 'c'];

/** Elects `id`: only it is ticked until it leads and its first round of messages has landed. */
function elect(w: GoldenWorld, id: string): void {
  w.runUntil(() => w.replica(id).isLeader(), [id]);
  w.settle();
}

export const STORIES: GoldenStory[] = [
  {
    name: 'phase1-reproposal',
    shows: [
      'Phase 1 re-proposes, per slot, the value of the highest ballot reported by a q1 quorum,',
      "even over the candidate's own accepted value.",
    ],
    lookFor: [
      'a accepts x1 at 1.a in slot 0 alone ("a synced accepted=[0:x1@1.a]"); c, leading at 2.c while a',
      'is cut off, accepts y1 in slot 0 alone; neither value is chosen;',
      "a campaigns at 3.a with c: its own log has 0:x1@1.a, c's promise reports accepted=[0:y1@2.c];",
      'a re-proposes y1 (ballot 2.c beats 1.a) in its first accept at 3.a, and slot 0 applies y1 everywhere.',
    ],
    world: { ids: ABC, quiet: ['heartbeat', 'heartbeatAck'] },
    teeth: { config: { brokenForTesting: { ignorePromiseValues: true } }, why: 'phase 1 ignores the reported values: a proposes a no-op in slot 0' },
    script(w) {
      w.note('a leads at 1.a; its accept of x1 reaches nobody, then a is cut off');
      elect(w, 'a');
      w.dropWhen((from, _to, m) => from === 'a' && m.type === 'accept');
      w.propose('a', ['x1']);
      w.settle();
      w.isolate('a');
      w.allowAll();
      w.note("c campaigns once b's and its own lease votes for 1.a run out; its accept of y1 reaches nobody");
      w.dropWhen((from, _to, m) => from === 'c' && m.type === 'accept');
      w.runUntil(() => w.replica('c').isLeader(), ['a', 'c']);
      w.propose('c', ['y1']);
      w.settle();
      w.show('a');
      w.show('c');
      w.note('c crashes and restarts (it keeps y1@2.c on disk); b is cut off; a and c meet again');
      w.crash('c');
      w.restart('c');
      w.allowAll();
      w.heal();
      w.isolate('b');
      w.note("a campaigns once c's vote for 2.c (honored for a lease after its restart) runs out");
      w.runUntil(() => w.replica('a').isLeader(), ['a']);
      w.settle();
      w.note('b comes back and learns slot 0');
      w.heal();
      w.run(40_000);
      for (const id of ABC) w.show(id);
    },
  },
  {
    name: 'noop-hole-filling',
    shows: [
      'A new leader fills a slot that no promise reports with a no-op, so the slots after it can apply;',
      'the old leader, restarted with its own value in that slot, learns the no-op.',
    ],
    lookFor: [
      'the accept of slot 1 (x2) is dropped on its way to b and c, so only a has it; slots 0 and 2 are chosen;',
      "b's campaign at 2.b: the promises report slot 2 but not slot 1, and b's first accept carries",
      '[1:noop 2:x3]; b and c apply 1 noop, 2 x3;',
      'a restarts at 216400 with x2@1.a in slot 1; for a lease it honors its possibly forgotten vote for',
      "1.a (it ignores b's heartbeats until 316400, see lease-vote-restart), its own pre-vote is refused;",
      'then it follows b, catches up (catchupReply entries=[0:x1 1:noop 2:x3]) and applies the no-op:',
      'x2, never chosen, is never applied anywhere.',
    ],
    world: { ids: ABC, quiet: ['heartbeat', 'heartbeatAck'] },
    teeth: { config: { brokenForTesting: { ignorePromiseValues: true } }, why: 'phase 1 ignores the reported values: slot 2 becomes a no-op too' },
    script(w) {
      w.note('a leads at 1.a and proposes x1, x2, x3 one at a time; the accept of slot 1 reaches nobody');
      elect(w, 'a');
      w.dropWhen((from, _to, m) => from === 'a' && m.type === 'accept' && m.entries.some((e) => e.slot === 1));
      for (const x of ['x1', 'x2', 'x3']) {
        w.propose('a', [x]);
        w.settle();
      }
      w.note('a crashes: slots 0 and 2 are chosen (a + b + c), slot 1 is on a alone');
      w.crash('a');
      w.allowAll();
      w.note("b campaigns once the lease votes for 1.a have run out; nobody reports slot 1: a no-op fills it");
      w.runUntil(() => w.replica('b').isLeader(), ['b']);
      w.settle();
      w.note('a restarts with x2@1.a in slot 1 and learns the no-op from b');
      w.restart('a');
      w.run(160_000);
      for (const id of ABC) w.show(id);
    },
  },
  {
    name: 'lease-vote-restart',
    shows: [
      'A lease vote survives a restart: an acceptor that restarts honors a vote for its durable promised',
      'ballot for one lease duration from its restart, so it refuses another proposer until the vote',
      'it may have forgotten could have run out.',
    ],
    lookFor: [
      'b and c last vote for 1.a on the heartbeat delivered at 126000, so those votes run until 226000;',
      'a crashes at 126200; b crashes at 136200 and restarts at 166200 with promised=1.a on disk and',
      'its vote forgotten; it honors a vote for 1.a until 166200 + 100 ms = 266200;',
      "c's pre-vote sent at 230000: c's own vote has run out (and b's forgotten one would have too), yet",
      'b answers preVoteReply granted=false;',
      "c's next pre-vote, at 330000, is granted, and c leads at 2.c.",
    ],
    world: { ids: ABC },
    teeth: { config: { brokenForTesting: { acceptorIgnoresLease: true } }, why: 'acceptors ignore lease votes: b grants the first pre-vote' },
    script(w) {
      w.note('a leads at 1.a; b and c renew their lease votes for 1.a with every heartbeatAck');
      elect(w, 'a');
      w.run(20_000);
      w.show('a');
      w.note('a crashes; b crashes 10 ms later and restarts 30 ms after that, its vote forgotten');
      w.crash('a');
      w.run(10_000, ['b', 'c']);
      w.crash('b');
      w.run(30_000, ['c']);
      w.restart('b');
      w.note('c (the only node ticking) campaigns: b refuses until 100 ms after its restart');
      w.runUntil(() => w.replica('c').isLeader(), ['c']);
      w.settle();
      w.show('b');
      w.show('c');
    },
  },
  {
    name: 'snapshot-pull',
    shows: [
      'A replica behind the compaction point pulls the snapshot in chunks, resumes a lost chunk where it',
      'stopped, installs the snapshot and fetches the tail after it.',
    ],
    lookFor: [
      'a and b snapshot every 4 slots ("synced snapshot=4 truncate<4", then 8) while c is cut off;',
      "c's catchupRequest from slot 0 is answered with a run of chunks 0.. of the snapshot at 8 (up to snapshotChunksPerRequest);",
      'chunk 1 is dropped (chunk 2 after it is ignored: out of order); two heartbeat intervals later c asks for chunk 1 again (not chunk 0);',
      'c installs the snapshot at 8, syncs it, then fetches and applies only slots 8 and 9.',
    ],
    world: { ids: ABC, quiet: ['heartbeat', 'heartbeatAck'], config: { snapshotIntervalEntries: 4, snapshotChunkChars: 80, maxBatch: 1 } },
    teeth: { config: { brokenForTesting: { snapshotOffByOne: true } }, why: 'snapshots are recorded one slot past the state machine' },
    script(w) {
      w.note('a leads at 1.a; c is cut off; 10 commands fill slots 0..9 on a and b');
      elect(w, 'a');
      w.isolate('c');
      w.propose('a', ['k1', 'k2', 'k3', 'k4', 'k5', 'k6']);
      w.settle();
      w.propose('a', ['k7', 'k8', 'k9', 'k10']);
      w.settle();
      w.show('a');
      w.note('heal: c learns chosenUpTo=10 from a heartbeat and pulls the snapshot; chunk 1 is lost once');
      let lost = false;
      w.dropWhen((_from, _to, m) => {
        if (lost || m.type !== 'snapshotChunk' || m.chunk !== 1) return false;
        lost = true;
        return true;
      });
      w.heal();
      w.run(100_000);
      for (const id of ABC) w.show(id);
    },
  },
  {
    name: 'reconfig-alpha',
    shows: [
      'The reconfiguration alpha window: a configuration chosen at slot i governs slots from i + window',
      '(window = 4 here); until then the old configuration counts the phase-2 quorum.',
    ],
    lookFor: [
      'the change {a,b,c} -> {a,b,d} is chosen in slot 1 ("apply 1 config(a,b,d q=2/2)"): it governs from 5;',
      'with b and d cut off from a, c acks slots 2..5; a applies 2, 3 and 4 (old config: a + c) but not 5:',
      "c's ack does not count there (new config: two of a, b, d);",
      'once d is reconnected a re-sends the accept of slot 5; d acks it and slot 5 applies (a + d);',
      'c, not a member from slot 5 on, is sent nothing more.',
    ],
    world: { ids: ['a', 'b', 'c', 'd'], members: ABC, quiet: ['heartbeat', 'heartbeatAck'], config: { window: 4, maxBatch: 1 } },
    teeth: { config: { window: 3 }, why: 'with window 3 the change governs from slot 4 and only three slots fit in flight' },
    script(w) {
      w.note('a leads at 1.a (d is a spare, not a member) and proposes x0');
      elect(w, 'a');
      w.propose('a', ['x0']);
      w.settle();
      w.note('the change to {a,b,d} goes into slot 1; as it may govern slots from 5, d is sent accepts from now on');
      w.reconfigure('a', { peers: ['a', 'b', 'd'] });
      w.settle();
      w.note('b and d are cut off from a; x2..x5 go into slots 2..5 (the window allows 4 unchosen slots)');
      w.cutBetween('a', 'b');
      w.cutBetween('a', 'd');
      w.propose('a', ['x2', 'x3', 'x4', 'x5']);
      w.settle();
      w.show('a');
      w.note('d is reconnected (b stays cut off): the stale accept of slot 5 is re-sent, d acks it');
      w.reconnect('a', 'd');
      w.run(50_000);
      for (const id of ['a', 'c', 'd']) w.show(id);
    },
  },
  {
    name: 'pre-vote',
    shows: [
      'Pre-vote: a replica cut off by a partition asks whether a phase-1 quorum would follow it before it',
      'raises its ballot; it gets no answer, keeps its promised ballot, and after the heal the leader keeps',
      'its ballot and its leadership.',
    ],
    lookFor: [
      "while c is cut off, every 100 ms: drop c>a / c>b g:preVote b=2.c and no 'c synced promised' line;",
      'c state promised=1.a before and after the heal; a stays leader at 1.a (no nack, no new election).',
      'Without pre-vote (features.preVote = false) c would sync promised=2.c, 3.c, ... and its nack would',
      'depose a after the heal: golden.test.ts checks that this trace then differs.',
    ],
    world: { ids: ABC, quiet: ['heartbeat', 'heartbeatAck'] },
    teeth: { config: { features: { preVote: false } }, why: 'without pre-vote c raises its ballot while cut off and its nack deposes a after the heal' },
    script(w) {
      w.note('a leads at 1.a');
      elect(w, 'a');
      w.run(20_000);
      w.note('c is cut off for 500 ms; every node ticks');
      w.isolate('c');
      w.run(500_000);
      w.show('c');
      w.note('heal');
      w.heal();
      w.run(60_000);
      for (const id of ABC) w.show(id);
    },
  },
];

/** Where a story's golden trace lives: libs/sim/testdata/golden/<name>.trace. */
export function goldenPath(name: string): string {
  return fileURLToPath(new URL(`../testdata/golden/${name}.trace`, import.meta.url));
}

/** Runs a story and returns its trace text; `config` overrides the replicas' configuration. */
export function runStory(story: GoldenStory, config: Partial<ReplicaConfig> = {}): string {
  const features = { ...story.world.config?.features, ...config.features };
  const w = new GoldenWorld({ ...story.world, config: { ...story.world.config, ...config, features } });
  story.script(w);
  const nodes = story.world.ids.join(',');
  const header = [
    `golden story: ${story.name}`,
    '',
    ...story.shows,
    '',
    'Look for:',
    ...story.lookFor.map((l) => `  ${l}`),
    '',
    `World: nodes ${nodes}${story.world.members ? ` (members ${story.world.members.join(',')})` : ''}; one line per event,`,
    'time in virtual us; heartbeat 20 ms, election timeout 100 ms (fixed), lease vote 100 ms, 1 ms links,',
    '0.1 ms fsyncs. A message is printed when delivered (or dropped); "synced" is a durable persist.',
    ...(story.world.config ? [`Replica config beyond the defaults: ${JSON.stringify(story.world.config)}`] : []),
    ...(story.world.quiet ? [`Not printed, only counted per section: ${story.world.quiet.join(', ')}.`] : []),
    'Regenerate: UPDATE_GOLDEN=1 npx vitest run src/golden.test.ts (in libs/sim), or',
    'npx tsx libs/sim/src/golden-cli.ts --update; then read the diff.',
  ];
  return w.text(header);
}
