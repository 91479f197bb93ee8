import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { ensureKeyPair, samePublicKey } from '../../server/ssh/keys.js';

const dir = () => mkdtempSync(join(tmpdir(), 'vast-mcp-keys-'));
const derived = (priv: string) => {
  const k = ssh2.utils.parseKey(priv);
  if (k instanceof Error) throw k;
  const key = Array.isArray(k) ? k[0]! : k;
  return `${key.type} ${key.getPublicSSH().toString('base64')}`;
};

function generateIn(stateDir: string): Promise<string> {
  const module = fileURLToPath(new URL('../../dist/server/ssh/keys.js', import.meta.url));
  const code = `import { ensureKeyPair } from ${JSON.stringify(module)}; const p = await ensureKeyPair(${JSON.stringify(stateDir)}); process.stdout.write(p.publicKey);`;
  return new Promise((resolve, reject) => {
    let out = '';
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (c) => (c === 0 ? resolve(out) : reject(new Error(`exit ${c}`))));
  });
}

describe('SSH key generation', () => {
  it('five processes at once end with one complete, matching pair', async () => {
    for (let round = 0; round < 2; round++) {
      const d = dir();
      const keys = await Promise.all(Array.from({ length: 5 }, () => generateIn(d)));
      expect(new Set(keys.map((k) => k.split(' ').slice(0, 2).join(' '))).size).toBe(1);
      const priv = readFileSync(join(d, 'ssh', 'id_ed25519'), 'utf8');
      expect(samePublicKey(derived(priv), readFileSync(join(d, 'ssh', 'id_ed25519.pub'), 'utf8'))).toBe(true);
      expect(samePublicKey(derived(priv), keys[0]!)).toBe(true);
    }
  }, 60_000);

  it('rewrites a missing or wrong public half from the private key, never replacing a usable key', async () => {
    const d = dir();
    const first = await ensureKeyPair(d);
    writeFileSync(join(d, 'ssh', 'id_ed25519.pub'), 'ssh-ed25519 AAAAwrong other\n');
    const again = await ensureKeyPair(d);
    expect(again.privateKey).toBe(first.privateKey);
    expect(samePublicKey(again.publicKey, first.publicKey)).toBe(true);
  });

  it('replaces an empty private key and takes over a lock left by a crashed process', async () => {
    const d = dir();
    mkdirSync(join(d, 'ssh'), { recursive: true });
    writeFileSync(join(d, 'ssh', 'id_ed25519'), '');
    const lock = join(d, 'ssh', 'keygen.lock');
    writeFileSync(lock, '');
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    const pair = await ensureKeyPair(d, async () => undefined);
    expect(samePublicKey(derived(pair.privateKey), pair.publicKey)).toBe(true);
  });
});
