export { PaxosHost, monotonicMicros, type GroupSpec, type PaxosHostOptions } from './paxos-host.js';
