/** The words of each workflow prompt. Kept apart from registration so they are easy to read and test. */
export function cannedPrompts(profiles: string[]) {
  return {
    rentGpu: (a: { task?: string; profile?: string; hours?: string }) =>
      [
        `The user wants to rent a GPU on Vast.ai${a.task ? ` to: ${a.task}` : ''}.`,
        "Follow the dialog-first rule: nothing that costs money happens without the user's explicit yes.",
        `1. Ask only what you do not know: the GPU or profile (${a.profile ? `proposed: ${a.profile}` : `profiles: ${profiles.join(', ')}`}), image, disk size in GB (it cannot grow later), how many instances${a.hours ? '' : ', and for how many hours'}. Propose defaults instead of open questions: RTX 4090, pytorch/pytorch:latest, 64 GB, 1 instance.`,
        `2. Call offers${a.profile ? ` with profile "${a.profile}"` : ''}${a.hours ? ` and hours ${a.hours}` : ''} and show the best 3 with their full price ($/h, disk $/GB/month, bandwidth $/GB) and projected cost.`,
        '3. Call create with the chosen values. If it answers needs_confirmation, show the user the proposal exactly (API key source, offer, image, disk, count, price, any instances already billing) and wait. Call create again with the confirmation_token only after a clear yes. A no is final.',
        '4. Use wait: true, then status. Tell the user that stopping does not stop disk billing; only destroy does, after copying results off.',
      ].join('\n'),
    teardown: (a: { instance_id: string; results_path?: string; destination?: string }) =>
      [
        `Tear down instance ${a.instance_id} without losing anything. The iron law: destroy deletes the disk, so copy first and verify.`,
        `1. status ${a.instance_id}: confirm it is the right instance (label, GPU, age, cost so far).`,
        `2. ssh with command "du -sh ${a.results_path ?? '/workspace'}/*" to see what is there; ask the user what must be kept.`,
        `3. copy the results (${a.results_path ?? '/workspace'}) to ${a.destination ?? 'a local directory or an s3:// bucket the user names'}. The copy is verified by sha256 on both ends and recorded; if it fails verification, copy again, never skip.`,
        `4. destroy ${a.instance_id}: show the user what is verified-copied and what is not, and the $/h saved; wait for their explicit approval. Use discard: true only if the user explicitly says nothing needs keeping.`,
        '5. Confirm the reported final state is "gone", then billing to show the meter has stopped for it.',
      ].join('\n'),
    recover: (a: { instance_id: string }) =>
      [
        `Instance ${a.instance_id} stopped or is stuck. Recover without paying for nothing.`,
        `1. status ${a.instance_id} and read the diagnosis: outbid (interruptible, intended running but stopped), host offline, exited, or scheduling (its GPUs were taken while it was stopped).`,
        '2. Outbid: propose a higher bid with bid (the user must confirm), or an on-demand instance. Exited: read logs. Offline or stuck scheduling: do not wait indefinitely while the disk bills.',
        "3. Find the last verified checkpoint: copies recorded for this instance (destroy shows them) or files in the user's bucket/local copies. If the instance becomes reachable, copy new results off first.",
        '4. Rent a new instance (rent-gpu workflow, on another machine) whose onstart resumes from that checkpoint; onstart is the durable way to relaunch work after restarts.',
        `5. Once the new one runs and nothing is left to copy, tear down ${a.instance_id} (teardown workflow).`,
      ].join('\n'),
    costReview: (a: { days?: string }) =>
      [
        `Review spending over the last ${a.days ?? '7'} days.`,
        `1. billing with from set ${a.days ?? '7'} days ago: credit, burn now, the 24 h projection, budget used/remaining, burn vs cap.`,
        '2. status: list every instance with its $/h now. Point out stopped instances: their disks still bill; only destroy stops that, after copying results off.',
        "3. Point out overdue instances (past their profile's max hours) and anything running idle.",
        "4. Propose concrete actions with the $/h each saves; act only on the user's explicit yes, through the confirmation flows.",
      ].join('\n'),
  };
}
