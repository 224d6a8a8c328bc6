// The Prometheus text exposition format (version 0.0.4), written by hand: a
// family's HELP and TYPE once, then its samples; label values and help text
// escaped as the format says.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';
export type Labels = Record<string, string>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A label value: backslash, double quote and line feed escaped. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: backslash and line feed escaped. */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value as the format writes it (Go's float syntax: NaN, +Inf, -Inf). */
export function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabelValue(labels[k]!)}"`).join(',')}}`;
}

/** A page being written: families in the order first declared, each with its samples together. */
export class Exposition {
  private readonly lines: string[] = [];
  private readonly declared = new Set<string>();

  /** Declare a family (once; later calls add nothing). */
  family(name: string, type: MetricType, help: string): this {
    if (!NAME.test(name)) throw new Error(`metric name ${JSON.stringify(name)} is not [a-zA-Z_:][a-zA-Z0-9_:]*`);
    if (this.declared.has(name)) return this;
    this.declared.add(name);
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    return this;
  }

  /** One sample; `name` is the family's, or for histograms the family's with _bucket, _sum or _count. */
  sample(name: string, labels: Labels, value: number): this {
    for (const k of Object.keys(labels)) if (!LABEL.test(k) || k.startsWith('__')) throw new Error(`label name ${JSON.stringify(k)} is not allowed`);
    this.lines.push(`${name}${labelText(labels)} ${formatValue(value)}`);
    return this;
  }

  /** A whole family with one sample per row. */
  rows(name: string, type: 'counter' | 'gauge', help: string, rows: Iterable<[Labels, number]>): this {
    this.family(name, type, help);
    for (const [labels, v] of rows) this.sample(name, labels, v);
    return this;
  }

  /**
   * A histogram from counts per bucket (`counts[i]` in bucket i alone, the last above every bound):
   * written cumulative, with the `+Inf` bucket equal to the count.
   */
  histogram(name: string, labels: Labels, bounds: readonly number[], h: { counts: number[]; sum: number; count: number }): this {
    let acc = 0;
    bounds.forEach((le, i) => {
      acc += h.counts[i] ?? 0;
      this.sample(`${name}_bucket`, { ...labels, le: formatValue(le) }, acc);
    });
    this.sample(`${name}_bucket`, { ...labels, le: '+Inf' }, h.count);
    this.sample(`${name}_sum`, labels, h.sum);
    this.sample(`${name}_count`, labels, h.count);
    return this;
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}
