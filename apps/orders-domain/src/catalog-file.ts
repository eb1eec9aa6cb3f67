import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type CatalogItem, parseCatalog } from './catalog.ts';

/** `apps/orders-domain/catalog.json`, the catalog shipped with the app. */
export const DEFAULT_CATALOG_PATH = fileURLToPath(new URL('../catalog.json', import.meta.url));

/** Reads and validates a catalog file; throws naming the file and every problem in it. */
export async function loadCatalogFile(path: string = DEFAULT_CATALOG_PATH): Promise<CatalogItem[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new Error(`cannot read the catalog file ${path}`, { cause });
  }
  try {
    return parseCatalog(JSON.parse(text));
  } catch (cause) {
    throw new Error(`${path}: ${(cause as Error).message}`, { cause });
  }
}
