import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildSearchBody, wrapForAsksSearch, type SearchOptions } from '../../server/vast/query.js';

interface Capture {
  flavor: 'vast.py' | 'vastai';
  command: string;
  endpoint: string;
  body: unknown;
}

/** Reads every `search offers` example (command line + body sent) from a capture log. */
function readCaptures(text: string): Capture[] {
  const out: Capture[] = [];
  let flavor: Capture['flavor'] = 'vast.py';
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.startsWith('====')) flavor = /vastai package/.test(line) ? 'vastai' : 'vast.py';
    if (!line.startsWith('$ vastai search offers')) return;
    const endpoint = (lines[i + 1] ?? '').trim().split(/\s+/).slice(0, 2).join(' ').replace(/\?.*$/, '');
    const body = /body=(.*)$/.exec(lines[i + 2] ?? '')?.[1];
    if (!body) return;
    out.push({
      flavor,
      command: line
        .slice('$ vastai search offers'.length)
        .replace(/\(flags placed after the subcommand\)/, '')
        .trim(),
      endpoint,
      body: JSON.parse(body),
    });
  });
  return out;
}

/** The CLI's own argument split: flags are options, everything else is the query text. */
function cliOptions(command: string, flavor: Capture['flavor']): SearchOptions & { newEndpoint: boolean } {
  const words = command.split(/\s+/).filter(Boolean);
  const opts: SearchOptions & { newEndpoint: boolean } = { flavor, newEndpoint: false };
  const query: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--type') opts.type = words[++i] as SearchOptions['type'];
    else if (w === '--limit') opts.limit = Number(words[++i]);
    else if (w === '--storage') opts.storageGb = Number(words[++i]);
    else if (w === '-o') opts.order = words[++i];
    else if (w === '-n') opts.noDefault = true;
    else if (w === '--new') opts.newEndpoint = true;
    else query.push(w);
  }
  opts.query = query.join(' ');
  return opts;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const fixture = readFileSync(`${here}../fixtures/search-offers-captures.txt`, 'utf8');
const sharedPath = `${here}../../../shared/references/vast-cli-request-capture.txt`;

describe('query language reproduces the official CLI', () => {
  const captures = readCaptures(fixture);

  it('has every search example of the capture log', () => {
    expect(captures.length).toBeGreaterThanOrEqual(8);
    if (existsSync(sharedPath)) {
      const shared = readCaptures(readFileSync(sharedPath, 'utf8'));
      expect(captures.map((c) => c.command)).toEqual(shared.map((c) => c.command));
    }
  });

  it.each(captures.map((c) => [`${c.flavor}: search offers ${c.command}`, c] as const))('%s', (_name, c) => {
    const { newEndpoint, ...opts } = cliOptions(c.command, c.flavor);
    const { body } = buildSearchBody(opts);
    const sent = newEndpoint ? wrapForAsksSearch(body) : body;
    expect(c.endpoint).toBe(newEndpoint ? 'PUT /api/v0/search/asks/' : 'POST /api/v0/bundles/');
    expect(JSON.parse(JSON.stringify(sent))).toStrictEqual(c.body);
  });
});
