// The runner's `k6/metrics`: custom metrics whose samples the main thread aggregates by name.
import { emit } from './context.mjs';

class Metric {
  /** @param {string} name @param {string} type @param {boolean} [isTime] */
  constructor(name, type, isTime) {
    if (!/^[A-Za-z0-9_]{1,128}$/.test(name)) throw new Error(`invalid metric name "${name}": letters, digits and _ only`);
    this.name = name;
    this.type = type;
    this.isTime = Boolean(isTime);
  }
  /** @param {number | boolean} value @param {Record<string, string>} [tags] */
  add(value, tags) {
    emit(this.name, this.type, this.isTime, Number(value), tags);
  }
}

export class Counter extends Metric {
  /** @param {string} name @param {boolean} [isTime] */
  constructor(name, isTime) { super(name, 'counter', isTime); }
}
export class Gauge extends Metric {
  /** @param {string} name @param {boolean} [isTime] */
  constructor(name, isTime) { super(name, 'gauge', isTime); }
}
export class Rate extends Metric {
  /** @param {string} name */
  constructor(name) { super(name, 'rate', false); }
  /** @param {number | boolean} value @param {Record<string, string>} [tags] */
  add(value, tags) { emit(this.name, this.type, false, value ? 1 : 0, tags); }
}
export class Trend extends Metric {
  /** @param {string} name @param {boolean} [isTime] */
  constructor(name, isTime) { super(name, 'trend', isTime); }
}

export default { Counter, Gauge, Rate, Trend };
