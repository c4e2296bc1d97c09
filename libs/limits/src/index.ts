export * from './limits.js';
export { sizeBound, utf8Bytes } from './size.js';
export { checkKey, checkTxn, type LimitCode, type LimitViolation, type WriteLike } from './check.js';
