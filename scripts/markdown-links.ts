// Every relative link in the repository's Markdown must name a file or folder that exists:
// a renamed or removed document fails CI instead of leaving readers at a dead link.
//
// Run: node scripts/markdown-links.ts (prints each broken link; exit 1 when there is one)
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..');

/** Folders never searched: installed packages, generated output, local data. */
const SKIPPED = new Set(['node_modules', '.git', '.herald', '.cache', 'tmp']);
const GENERATED = ['docs/api', 'bench/results'];

/** One link of a Markdown file. */
export interface MarkdownLink {
  readonly line: number;
  readonly target: string;
}

/** A relative link whose target does not exist. */
export interface BrokenLink extends MarkdownLink {
  /** The Markdown file, relative to the root searched. */
  readonly file: string;
}

/**
 * The link targets of a Markdown text, inline (`[text](target)`, images too) and reference
 * definitions (`[name]: target`), outside fenced code blocks and inline code spans.
 */
export function linksOf(markdown: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  let fence: string | undefined;
  for (const [index, raw] of markdown.split('\n').entries()) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(raw)?.[1];
    if (marker !== undefined) {
      if (fence === undefined) fence = marker[0];
      else if (marker[0] === fence) fence = undefined;
      continue;
    }
    if (fence !== undefined) continue;
    const line = raw.replace(/`[^`]*`/g, '');
    for (const match of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ line: index + 1, target: match[1]! });
    }
    const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(line);
    if (definition !== null) links.push({ line: index + 1, target: definition[1]! });
  }
  return links;
}

/** Whether a target points into this repository (not a URL, a mail address or an anchor only). */
function isRelative(target: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith('#') && !target.startsWith('//');
}

/** Every Markdown file under `root`, outside installed packages and generated output. */
export function markdownFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        const rel = relative(root, path).split('\\').join('/');
        if (!SKIPPED.has(entry.name) && !GENERATED.includes(rel)) walk(path);
      } else if (entry.name.endsWith('.md')) {
        files.push(path);
      }
    }
  };
  walk(root);
  return files.toSorted();
}

/** The relative links under `root` whose file or folder does not exist (anchors are not checked). */
export function brokenLinks(root = REPO): BrokenLink[] {
  const broken: BrokenLink[] = [];
  for (const file of markdownFiles(root)) {
    for (const link of linksOf(readFileSync(file, 'utf8'))) {
      if (!isRelative(link.target)) continue;
      const path = link.target.replace(/[?#].*$/, '');
      if (path === '') continue;
      let decoded: string;
      try {
        decoded = decodeURIComponent(path);
      } catch {
        decoded = path;
      }
      const resolved = decoded.startsWith('/') ? join(root, decoded) : resolve(dirname(file), decoded);
      if (!existsSync(resolved)) broken.push({ ...link, file: relative(root, file) });
    }
  }
  return broken;
}

if (import.meta.main) {
  const broken = brokenLinks();
  for (const b of broken) console.error(`${b.file}:${b.line}: ${b.target} does not exist`);
  if (broken.length > 0) process.exitCode = 1;
}
