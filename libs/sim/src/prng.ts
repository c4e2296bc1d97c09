// The simulator's randomness is the project's one PRNG.
export { Prng, hashString } from '@synod/prng';
