export { ChildNode, synodCommand } from './child-node.js';
export { nextChaos } from './chaos-command.js';
