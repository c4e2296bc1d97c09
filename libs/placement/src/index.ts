export { RangeMap, rangeMapSchema, type RangeMapConfig, type Split } from './range-map.js';
