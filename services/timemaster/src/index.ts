export { runTimemaster, timemasterConfig, TIMEMASTER_HELP } from './timemaster.js';
