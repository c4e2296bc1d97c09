export { ChildNode } from './child-node.js';
export { synodCommand, BUNDLE_ENTRY, type SelfCommand } from './self-command.js';
export { nextChaos } from './chaos-command.js';
export { Bank, type BankOptions, type BankStats } from './bank.js';
export { launchCluster, LaunchAbortedError, type LaunchedCluster, type LaunchOptions, type ClusterFile } from './cluster-launch.js';
export { collectStatus, renderStatus } from './client-commands.js';
export { waitForLeaders } from './up.js';
export { lockDataDir, DataDirLockedError, EXIT_DATA_DIR_LOCKED, LOCK_FILE } from './data-dir-lock.js';
export { fetchPlacementMap, sendAdmin, type PlacementMap } from './placement-commands.js';
