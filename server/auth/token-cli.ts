import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { isMap, isSeq, parseDocument } from 'yaml';
import { ConfigError } from '../errors.js';
import { validName } from './authenticator.js';
import { newToken, parseTokenFile } from './token-file.js';

const HEADER = '# vast-mcp bearer tokens: only SHA-256 hashes are stored. Add with `vast-mcp token add --user U`.\ntokens: []\n';

function readDoc(file: string) {
  let text = HEADER;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  parseTokenFile(text, file); // refuse to extend a file the server would refuse
  const doc = parseDocument(text);
  if (!isMap(doc.contents)) return parseDocument(HEADER);
  if (!isSeq(doc.get('tokens'))) doc.set('tokens', doc.createNode([]));
  return doc;
}

/** Written beside, synced, then renamed: a reader (the server) sees the old file or the new one. */
function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** Appends a new token for the user; returns the token, which is never stored and cannot be shown again. */
export function addToken(file: string, user: string, team: string | undefined, now = new Date()): string {
  if (!validName(user)) throw new ConfigError('--user: letters, digits and . _ @ + - only');
  if (team !== undefined && !validName(team)) throw new ConfigError('--team: letters, digits and . _ @ + - only');
  const doc = readDoc(file);
  const { token, sha256 } = newToken();
  doc.addIn(['tokens'], { user, ...(team ? { team } : {}), sha256, created: now.toISOString() });
  writeAtomically(file, doc.toString());
  return token;
}

/** Removes every token of the user (the server re-reads the file: those tokens stop working at once). */
export function removeTokens(file: string, user: string): number {
  const doc = readDoc(file);
  const seq = doc.get('tokens');
  if (!isSeq(seq)) return 0;
  const before = seq.items.length;
  seq.items = seq.items.filter((item) => !(isMap(item) && item.get('user') === user));
  const removed = before - seq.items.length;
  if (removed > 0) writeAtomically(file, doc.toString());
  return removed;
}
