import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface KeyPair {
  privateKey: string;
  publicKey: string;
  path: string;
}

/**
 * The server's own SSH identity: an ed25519 key pair in the state directory (private key 0600),
 * generated on first use.
 */
export async function ensureKeyPair(stateDir: string): Promise<KeyPair> {
  const dir = join(stateDir, 'ssh');
  const path = join(dir, 'id_ed25519');
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { generateEd25519 } = await import('./keygen.js');
    const pair = generateEd25519('vast-mcp');
    writeFileSync(path, pair.private, { mode: 0o600 });
    writeFileSync(`${path}.pub`, `${pair.public.trim()}\n`, { mode: 0o644 });
  }
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  return { privateKey: readFileSync(path, 'utf8'), publicKey: readFileSync(`${path}.pub`, 'utf8').trim(), path };
}

/** Compares public keys by type and base64 body, ignoring comments. */
export function samePublicKey(a: string, b: string): boolean {
  const norm = (k: string) => k.trim().split(/\s+/).slice(0, 2).join(' ');
  return norm(a) === norm(b);
}
