/** Sent at initialize: the safety rules every agent driving this server must follow. */
export function serverInstructions(simulated: boolean): string {
  return [
    simulated
      ? 'SANDBOX: every answer comes from a local Vast simulator; no real account or money is involved.'
      : 'This server acts on a real Vast.ai account: renting costs money.',
    'Rules: (1) Before anything that costs money, show the user the proposal (offer, image, disk, count, price) and wait for an explicit yes; a "no" is final.',
    '(2) "stop" does not stop billing: a stopped instance keeps billing its disk. Only destroy stops the meter, and destroy deletes the disk.',
    '(3) Never destroy before the results were copied off and verified, unless the user explicitly chose to discard them.',
    'Read-only tools (offers, status, billing, logs) are free. Budgets and GPU profiles are enforced by the server.',
    'Read the resources vast-mcp://references/gotchas (platform traps), vast-mcp://references/api (safe calling) and vast-mcp://references/profiles (profiles, budgets); the prompts rent-gpu, teardown, recover-preempted and cost-review walk through the workflows.',
  ].join('\n');
}
