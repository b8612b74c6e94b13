/** A small parser of the Prometheus text exposition format (0.0.4), enough to check what /metrics says. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const SUFFIXES: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count', ''] };

function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) out[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  return out;
}

export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: 'untyped', help: '', samples: [] }));
    return f;
  };
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const f = family(meta[2]!);
      if (meta[1] === 'TYPE') f.type = meta[3]!;
      else f.help = meta[3]!;
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const name = m[1]!;
    // The family is the longest declared name this sample belongs to (histogram _bucket/_sum/_count).
    let owner: Family | undefined = families.get(name);
    if (!owner || !['counter', 'gauge', 'untyped', 'summary'].includes(owner.type)) {
      for (const f of families.values()) {
        if ((SUFFIXES[f.type] ?? ['']).some((suf) => f.name + suf === name)) owner = f;
      }
    }
    if (!owner) throw new Error(`sample ${name} has no # TYPE line`);
    const value = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
    owner.samples.push({ name, labels: parseLabels(m[3] ?? ''), value });
  }
  return families;
}

/** The value of one sample, matched on name and a subset of labels. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}

/** The label names of a family's series, without the `le` / `quantile` that histograms and summaries add. */
export function labelSets(f: Family): Set<string> {
  return new Set(f.samples.map((s) => Object.keys(s.labels).filter((k) => k !== 'le' && k !== 'quantile').sort().join(',')));
}
