export { Prng, hashString } from './prng.js';
export { EventQueue } from '@synod/sim-kernel';
export { Scheduler } from './scheduler.js';
export { Trace } from './trace.js';
export { SimNetwork, NO_NETWORK_FAULTS, type NetworkFaults } from './network.js';
export { DurableStore } from './disk.js';
export { SimNode, type NodeTiming } from './node.js';
export { SimClient, type ClientTiming } from './client.js';
export { Nemesis, CALM_NETWORK } from './nemesis.js';
export { History, type Violation } from './checkers.js';
export type { SimPayload } from './messages.js';
export {
  BROKEN_VARIANTS,
  DATACENTERS,
  DEFAULT_SIM_OPTIONS,
  FAULT_MODES,
  SCENARIOS,
  scenarioOptions,
  type Scenario,
  simOptions,
  nodeIdForDc,
  type BrokenVariant,
  type FaultMode,
  type SimOptions,
} from './options.js';
export { runSimulation, longRunOptions, type SimResult, type GroupStats, type Footprint } from './simulation.js';
export { DriftingClock } from './clock.js';
export { SimStateMachine, type SmSnapshot } from './state-machine.js';
// The span scenario: the transaction core on several splits and nodes (span/README.md).
export {
  runSpan,
  buildSpanWorld,
  finishSpanWorld,
  twoPhaseStates,
  spanOptions,
  shapeOptions,
  SPAN_SHAPE_NAMES,
  DEFAULT_SPAN_OPTIONS,
  type SpanOptions,
  type SpanResult,
  type SpanTotals,
  type SpanShape,
  type SpanWorld,
  type TxnBrokenVariant,
} from './span/simulation.js';
export { checkSpanHistory, SPAN_CHECKERS, GroundState, type SpanCheckerName } from './span/checkers.js';
export type { SpanHistory, SpanViolation, GroundCommit, GroundAbort, GroundPrepare, TwoPhaseEndState, RwRecord, RoRecord, TSafeSample, StatusAnswer } from './span/history.js';
export { ScriptedClient } from './span/scripted.js';
export { SpanRecorder } from './span/recorder.js';
