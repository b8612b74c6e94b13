/** Cheap shared-library lookup (no dlopen): the directories the dynamic loader would search. */
import { listDir, readText, exists, type Host } from './host.js';

const STANDARD_DIRS = [
  '/usr/local/cuda/lib64',
  '/usr/local/cuda/targets/x86_64-linux/lib',
  '/usr/local/cuda/targets/sbsa-linux/lib',
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/lib64',
  '/usr/local/lib',
  '/usr/lib',
  '/lib',
  '/usr/local/nvidia/lib64',
  '/usr/lib/wsl/lib',
];

async function ldConfDirs(host: Host, file: string, depth = 0): Promise<string[]> {
  const text = await readText(host, file);
  if (!text || depth > 3) return [];
  const dirs: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const inc = /^include\s+(.+)$/.exec(line);
    if (inc?.[1]) {
      const pattern = inc[1];
      const slash = pattern.lastIndexOf('/');
      const dir = pattern.slice(0, slash);
      const glob = new RegExp(`^${pattern.slice(slash + 1).replace(/\./g, '\\.').replace(/\*/g, '.*')}$`);
      for (const f of await listDir(host, dir)) {
        if (glob.test(f)) dirs.push(...(await ldConfDirs(host, `${dir}/${f}`, depth + 1)));
      }
    } else if (line.startsWith('/')) {
      dirs.push(line);
    }
  }
  return dirs;
}

/** Directories glibc's loader searches without being told (besides ld.so.conf's). */
const TRUSTED_DIRS = ['/lib64', '/usr/lib64', '/lib', '/usr/lib', '/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu'];

/** Versioned CUDA toolkits (/usr/local/cuda-13.0/...), where the libraries often sit off the loader's path. */
async function cudaToolkitDirs(host: Host): Promise<string[]> {
  const dirs: string[] = [];
  for (const name of (await listDir(host, '/usr/local')).filter((n) => /^cuda(-[\d.]+)?$/.test(n)).sort().reverse()) {
    dirs.push(`/usr/local/${name}/lib64`);
    for (const t of await listDir(host, `/usr/local/${name}/targets`)) dirs.push(`/usr/local/${name}/targets/${t}/lib`);
  }
  return dirs;
}

export class LibraryFinder {
  private dirs: Promise<string[]> | undefined;
  private loader: Promise<string[]> | undefined;
  private readonly found = new Map<string, Promise<string | undefined>>();

  constructor(private readonly host: Host) {}

  /** Where a library may be: the loader's path first, then the usual install places. */
  searchDirs(): Promise<string[]> {
    this.dirs ??= (async () => [...new Set([...(await this.loaderDirs()), ...STANDARD_DIRS, ...(await cudaToolkitDirs(this.host))])])();
    return this.dirs;
  }

  /** What the dynamic loader searches: LD_LIBRARY_PATH, ld.so.conf, the trusted directories. */
  loaderDirs(): Promise<string[]> {
    this.loader ??= (async () => {
      const fromEnv = (this.host.env['LD_LIBRARY_PATH'] ?? '').split(':').filter(Boolean);
      const fromConf = await ldConfDirs(this.host, '/etc/ld.so.conf');
      return [...new Set([...fromEnv, ...fromConf, ...TRUSTED_DIRS])];
    })();
    return this.loader;
  }

  /** The directories holding `names` (where each was found first), in order. */
  async dirsOf(names: readonly string[]): Promise<string[]> {
    const dirs: string[] = [];
    for (const name of names) {
      const path = await this.find(name);
      const dir = path?.slice(0, path.lastIndexOf('/'));
      if (dir && !dirs.includes(dir)) dirs.push(dir);
    }
    return dirs;
  }

  /** The directories holding `names` that the loader would not search (found elsewhere), in order. */
  async offLoaderPath(names: readonly string[]): Promise<string[]> {
    const loader = new Set(await this.loaderDirs());
    return (await this.dirsOf(names)).filter((d) => !loader.has(d));
  }

  /** The first path holding `name` (e.g. libcudart.so.12), or undefined. */
  find(name: string): Promise<string | undefined> {
    let hit = this.found.get(name);
    if (!hit) {
      hit = (async () => {
        for (const dir of await this.searchDirs()) {
          if (await exists(this.host, `${dir}/${name}`)) return `${dir}/${name}`;
        }
        return undefined;
      })();
      this.found.set(name, hit);
    }
    return hit;
  }

  /** The names in `names` that cannot be found. */
  async missing(names: readonly string[]): Promise<string[]> {
    const results = await Promise.all(names.map(async (n) => ((await this.find(n)) ? undefined : n)));
    return results.filter((n): n is string => n !== undefined);
  }
}
