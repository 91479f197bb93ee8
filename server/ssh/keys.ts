import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync, chmodSync } from 'node:fs';
import { join } from 'node:path';

export interface KeyPair {
  privateKey: string;
  publicKey: string;
  path: string;
}

/** A lock older than this was left by a crashed process. */
const STALE_LOCK_MS = 30_000;
/** How long a second process waits for the first one's key. */
const WAIT_FOR_KEY_MS = 20_000;

function readIfPresent(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** The public key (`ssh-ed25519 <base64>`) that belongs to a private key, or null if unreadable. */
async function publicOf(privateKey: string): Promise<string | null> {
  const { default: ssh2 } = await import('ssh2');
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error) return null;
  const key = Array.isArray(parsed) ? parsed[0]! : parsed;
  return `${key.type} ${key.getPublicSSH().toString('base64')}`;
}

function writeDurably(path: string, text: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** The pair on disk if complete and matching, else null. */
async function readPair(path: string): Promise<KeyPair | null> {
  const privateKey = readIfPresent(path);
  const publicKey = readIfPresent(`${path}.pub`)?.trim();
  if (!privateKey || !publicKey) return null;
  const derived = await publicOf(privateKey);
  return derived && samePublicKey(derived, publicKey) ? { privateKey, publicKey, path } : null;
}

/** O_EXCL lock file; a stale one (crashed holder) is taken over. */
function tryLock(lock: string): boolean {
  try {
    closeSync(openSync(lock, 'wx', 0o600));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    try {
      if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmSync(lock, { force: true });
    } catch {
      /* released meanwhile */
    }
    return false;
  }
}

/**
 * The server's own SSH identity: an ed25519 key pair in the state directory (private key 0600),
 * generated on first use. Two processes may start at once: generation happens under a lock, into
 * temporary files renamed into place (public half first, so a private key is never seen alone), and
 * every pair read is verified (the public half derived from the private one must match). A private
 * key whose public half is missing or wrong gets its public half rewritten from it; an unreadable
 * private key is replaced (it cannot have been used).
 */
export async function ensureKeyPair(stateDir: string, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))): Promise<KeyPair> {
  const dir = join(stateDir, 'ssh');
  const path = join(dir, 'id_ed25519');
  const lock = join(dir, 'keygen.lock');
  const started = Date.now();
  for (;;) {
    const pair = await readPair(path);
    if (pair) {
      if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
      return pair;
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (tryLock(lock)) {
      try {
        const again = await readPair(path);
        if (again) return again;
        const existing = readIfPresent(path);
        const derived = existing ? await publicOf(existing) : null;
        if (existing && derived) {
          writeDurably(`${path}.pub`, `${derived} vast-mcp\n`, 0o644);
        } else {
          const { generateEd25519 } = await import('./keygen.js');
          const fresh = generateEd25519('vast-mcp');
          writeDurably(`${path}.pub`, `${fresh.public.trim()}\n`, 0o644);
          writeDurably(path, fresh.private, 0o600);
        }
      } finally {
        rmSync(lock, { force: true });
      }
      continue;
    }
    if (Date.now() - started > WAIT_FOR_KEY_MS)
      throw new Error(`timed out waiting for another process to create the SSH key in ${dir} (remove ${lock} if no vast-mcp is running)`);
    await sleep(50);
  }
}

/** Compares public keys by type and base64 body, ignoring comments. */
export function samePublicKey(a: string, b: string): boolean {
  const norm = (k: string) => k.trim().split(/\s+/).slice(0, 2).join(' ');
  return norm(a) === norm(b);
}
