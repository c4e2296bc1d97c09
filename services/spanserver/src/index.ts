export { Spanserver, type SpanserverOptions } from './spanserver.js';
export { LocalTrueTime, type TimeSource } from './time-source.js';
export { SplitState } from './split-state.js';
export { runSpanserver, loadRangeMap, SPANSERVER_HELP } from './main.js';
