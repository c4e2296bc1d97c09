export { SynodClient, Transaction, type ClientOptions, type ReadOptions, type ReadResult } from './client.js';
