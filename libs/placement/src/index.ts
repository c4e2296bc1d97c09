export { RangeMap, rangeMapSchema, type RangeMapConfig, type RangeMapInput, type Split } from './range-map.js';
export { opSchema, describeOp, type Op, type OpInput } from './ops.js';
export { PlacementLog, placementCommandSchema, LOG_LIMITS, MAP_STEP, type PlacementCommand, type PlacementCommandInput, type PlacementState, type CurrentOp, type ApplyResult } from './placement-log.js';
export { ReportWindow, type ReportWindowLimits } from './reports.js';
export { planPlacement, nextSplitId, DEFAULT_THRESHOLDS, type PlacementThresholds, type NodeHealth, type PlanContext } from './planner.js';
export { OpExecutor, DEFAULT_EXECUTOR_LIMITS, type ExecAction, type SendAction, type ProposeAction, type WaitAction, type StepResult, type Target, type SplitRequest, type ExecutorLimits } from './executor.js';
