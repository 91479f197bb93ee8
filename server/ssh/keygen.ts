import ssh2 from 'ssh2';

/**
 * An ed25519 key pair that ssh2 can read back. ssh2's generator emits a private key its own parser
 * rejects about 3 times in 1,000 ("Malformed OpenSSH private key"), so each pair is checked first.
 */
export function generateEd25519(comment?: string): { private: string; public: string } {
  for (let i = 0; i < 50; i++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', comment ? { comment } : {});
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error) && !(ssh2.utils.parseKey(pair.public) instanceof Error)) return pair;
  }
  throw new Error('could not generate a readable ed25519 key pair');
}
