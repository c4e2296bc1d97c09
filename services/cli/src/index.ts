export { ChildNode, synodCommand } from './child-node.js';
export { nextChaos } from './chaos-command.js';
export { Bank, type BankOptions, type BankStats } from './bank.js';
export { launchCluster, type LaunchedCluster, type LaunchOptions, type ClusterFile } from './cluster-launch.js';
export { collectStatus, renderStatus } from './client-commands.js';
export { waitForLeaders } from './up.js';
