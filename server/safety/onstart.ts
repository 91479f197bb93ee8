import { gzipSync } from 'node:zlib';
import { InputError } from '../errors.js';

export const ONSTART_LIMIT = 16 * 1024;

const SECRET_PATTERNS: { re: RegExp; what: string }[] = [
  {
    re: /\b[A-Z0-9_]*(KEY|TOKEN|SECRET|PASSWORD|PASSWD)=(?![\s$'\x22]*\$)\S+/,
    what: 'an assignment to a *_KEY / *_TOKEN / *_SECRET / *_PASSWORD variable',
  },
  { re: /\bAKIA[0-9A-Z]{16}\b/, what: 'an AWS access key id (AKIA…)' },
  { re: /\bhf_[A-Za-z0-9]{30,}\b/, what: 'a Hugging Face token (hf_…)' },
  { re: /\bgh[pousr]_[A-Za-z0-9]{30,}\b/, what: 'a GitHub token' },
  { re: /-----BEGIN [A-Z ]*PRIVATE KEY-----/, what: 'a private key' },
];

/** Refuses onstart text that embeds a secret: the platform stores onstart in the clear. */
export function assertNoSecrets(onstart: string, knownSecrets: (text: string) => boolean): void {
  if (knownSecrets(onstart))
    throw new InputError('onstart contains your Vast API key. Never put it in onstart; the instance gets its own key as CONTAINER_API_KEY.');
  for (const p of SECRET_PATTERNS) {
    if (p.re.test(onstart)) {
      throw new InputError(
        `onstart looks like it contains a secret (${p.what}). The platform stores onstart in the clear: pass secrets through env instead (env: {"HF_TOKEN": "…"}) and refer to $HF_TOKEN in the script.`,
      );
    }
  }
}

/** Scripts over 16 KB are sent gzip+base64 and unpacked on the instance; beyond that, refused. */
export function packOnstart(script: string): { onstart: string; packed: boolean } {
  if (Buffer.byteLength(script) <= ONSTART_LIMIT) return { onstart: script, packed: false };
  const b64 = gzipSync(Buffer.from(script)).toString('base64');
  const onstart = `echo '${b64}' | base64 -d | gunzip > /root/onstart.sh && bash /root/onstart.sh`;
  if (Buffer.byteLength(onstart) > ONSTART_LIMIT) {
    throw new InputError(
      `onstart is too large even compressed (${Buffer.byteLength(script)} bytes): ship the script in the image or download it at start.`,
    );
  }
  return { onstart, packed: true };
}
