/**
 * Which image references the simulator cannot pull. Real pull errors are host status messages
 * (vast-cli `vastai/cli/self_test/runtime_diagnostics.py` 246-255: "pull access denied",
 * "manifest unknown", "unauthorized"). The simulator has no registry, so it fails deterministically
 * on references that cannot resolve anywhere: reserved TLDs (RFC 2606/6761: .invalid, .test,
 * .example, .localhost), names that say they do not exist, and malformed references.
 */
const RESERVED_TLD = /\.(invalid|test|example|localhost)(:\d+)?$/i;
const MISSING_NAME = /(^|[/_-])(no-such|nonexistent|does-not-exist|doesnotexist)([/_:-]|$)/i;
const REFERENCE = /^[a-z0-9]+([._-][a-z0-9]+)*(:\d+)?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

export function imageResolvable(image: string): boolean {
  if (image.startsWith('template:')) return true;
  const first = image.split('/')[0] ?? '';
  const registry = image.includes('/') && /[.:]|^localhost$/.test(first) ? first : null;
  if (registry && RESERVED_TLD.test(registry)) return false;
  if (MISSING_NAME.test(image)) return false;
  return REFERENCE.test(image);
}

export function pullErrorMessage(image: string): string {
  const first = image.split('/')[0] ?? '';
  if (!REFERENCE.test(image)) return `Error response from daemon: invalid reference format: ${image.slice(0, 200)}`;
  if (image.includes('/') && RESERVED_TLD.test(first)) {
    return `Error response from daemon: Get "https://${first}/v2/": dial tcp: lookup ${first}: no such host`;
  }
  return `Error response from daemon: pull access denied for ${image.split(':')[0]}, repository does not exist or may require 'docker login'`;
}
