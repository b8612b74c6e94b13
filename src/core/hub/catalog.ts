/**
 * The model catalog (catalog/models.json, a versioned data file shipped with the package): alias → repo,
 * revision, files, task, I/O, preprocessing, labels, licence and warnings.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';

export interface CatalogEntry {
  alias: string;
  repo: string;
  revision: string;
  /** The commit the catalog's sources saw (abbreviated): a pull warns when the revision moved away from it. */
  commitPrefix?: string;
  include: string[];
  task: string;
  inputs?: { name: string; type: string; shape: (number | string)[]; note?: string }[];
  outputs?: { name: string; type: string; shape: (number | string)[] }[];
  preprocess?: Record<string, unknown>;
  labels?: string;
  /** Known sha256 per path: a pull warns when the Hub's etag differs. */
  sha256?: Record<string, string>;
  sizeBytes?: number;
  license: string;
  /** agpl, non-commercial, third-party-mirror */
  flags?: string[];
  warning?: string;
}

export interface Catalog {
  version: number;
  models: CatalogEntry[];
}

let shipped: Catalog | undefined;

/** The catalog shipped with aivmm (src/ and dist/ both sit three levels below the package root), read once. */
export function loadCatalog(): Catalog {
  shipped ??= readCatalog(new URL('../../../catalog/models.json', import.meta.url));
  return shipped;
}

export function readCatalog(url: URL): Catalog {
  let doc: Catalog;
  try {
    doc = JSON.parse(readFileSync(url, 'utf8')) as Catalog;
  } catch (err) {
    throw new ConfigError(`the model catalog ${url.pathname} cannot be read: ${(err as Error).message}`, 'reinstall aivmm');
  }
  if (doc.version !== 1 || !Array.isArray(doc.models)) throw new ConfigError(`the model catalog ${url.pathname} has version ${String(doc.version)}; this aivmm reads version 1`, 'update aivmm');
  for (const m of doc.models) {
    if (!m.alias || !/^[\w.-]+\/[\w.-]+$/.test(m.repo) || !Array.isArray(m.include) || m.include.length === 0 || !m.license) {
      throw new ConfigError(`the model catalog has an invalid entry '${m.alias ?? '?'}'`);
    }
  }
  return doc;
}

export function findAlias(alias: string, catalog: Catalog = loadCatalog()): CatalogEntry | undefined {
  return catalog.models.find((m) => m.alias.toLowerCase() === alias.toLowerCase());
}
