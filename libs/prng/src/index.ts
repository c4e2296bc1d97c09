export { Prng, hashString } from './prng.js';
