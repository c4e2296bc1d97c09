export { SynodClient } from './client.js';
