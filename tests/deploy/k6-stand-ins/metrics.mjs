// Node stand-in for k6/metrics: every sample is kept, by metric name, with its tags.
export const samples = new Map();

class Metric {
  constructor(name) {
    this.name = name;
    if (!samples.has(name)) samples.set(name, []);
  }

  add(value, tags) {
    samples.get(this.name).push({ value, tags: tags || {} });
  }
}

export class Counter extends Metric {}
export class Trend extends Metric {}
export class Rate extends Metric {}
export class Gauge extends Metric {}
