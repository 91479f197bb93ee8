import { SimHttpError } from '../http-error.js';
import { ok, type SimRequest } from '../http-router.js';
import type { SshKeyRecord } from '../types.js';
import { bodyObject, liveInstance, type RouteContext } from './context.js';

function keyText(body: Record<string, unknown>): string {
  const key = body.ssh_key;
  if (typeof key !== 'string' || !/^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+/.test(key.trim())) {
    throw new SimHttpError(400, 'invalid_args', 'ssh_key must be an OpenSSH public key ("ssh-ed25519 AAAA... comment").');
  }
  if (/PRIVATE KEY/.test(key)) throw new SimHttpError(400, 'invalid_args', 'That is a private key. Send the public key.');
  return key.trim();
}

function keyRow(userId: number, k: SshKeyRecord, isoDates = false): Record<string, unknown> {
  const created = isoDates ? new Date(k.createdAt * 1000).toISOString() : k.createdAt;
  return { id: k.id, user_id: userId, key: k.publicKey, public_key: k.publicKey, created_at: created, deleted_at: null };
}

export function registerAccountRoutes(ctx: RouteContext): void {
  const { router, world } = ctx;
  const acct = world.account;

  // DOC show_user.yaml documents `balance` (not `credit`); vast.py prints `credit` (925-955). With
  // `oddShapes` the row carries only `balance`, the documented reading.
  router.add('GET', '/api/v0/users/current', () => {
    const row: Record<string, unknown> = {
      id: acct.id,
      username: acct.username,
      email: acct.email,
      fullname: acct.fullname,
      // The real API still echoes the key here (the CLI deletes it and crashes if it is absent).
      api_key: acct.apiKey,
      credit: Math.round(acct.credit * 100) / 100,
      balance: Math.round(acct.credit * 100) / 100,
      balance_threshold: 5,
      balance_threshold_enabled: false,
      billaddress_city: null,
      billaddress_country: null,
      billaddress_line1: null,
      billaddress_line2: null,
      billaddress_zip: null,
      can_pay: true,
      email_verified: true,
      // A saved card (DOC guides/reference/billing.mdx: it protects instances at $0; world-billing.ts).
      has_billing: acct.cardOnFile,
      has_payout: false,
      last4: acct.cardOnFile ? '4242' : null,
      paypal_email: null,
      ssh_key: acct.sshKeys[0]?.publicKey ?? null,
      key_id: 1,
      sid: 'sim-session',
      user: acct.username,
    };
    if (world.fidelity.oddShapes) delete row.credit;
    return ok(row);
  });

  // DOC show_ssh_keys.yaml:55: an account without keys answers 404; `created_at` is a date-time string.
  router.add('GET', '/api/v0/ssh', () => {
    if (acct.sshKeys.length === 0 && world.fidelity.emptyAccountKeys === 'not_found')
      throw new SimHttpError(404, 'not_found', 'No SSH keys found for the user.');
    return ok(acct.sshKeys.map((k) => keyRow(acct.id, k, world.fidelity.emptyAccountKeys === 'not_found')));
  });
  // DOC create_ssh_key.yaml; vast.py create ssh-key.
  router.add('POST', '/api/v0/ssh', (req: SimRequest) => {
    const record = { id: world.newKeyId(), publicKey: keyText(bodyObject(req.body)), createdAt: world.now() };
    // Account keys reach instances created from now on, not existing ones (attach for those).
    acct.sshKeys.push(record);
    return ok({ success: true, key: keyRow(acct.id, record) });
  });
  router.add('PUT', '/api/v0/ssh/:id', (req: SimRequest) => {
    const k = acct.sshKeys.find((x) => x.id === Number(req.params.id));
    if (!k) throw new SimHttpError(404, 'no_such_ssh_key', `SSH key ${req.params.id} not found.`);
    k.publicKey = keyText(bodyObject(req.body));
    return ok({ success: true, key: keyRow(acct.id, k) });
  });
  router.add('DELETE', '/api/v0/ssh/:id', (req: SimRequest) => {
    const i = acct.sshKeys.findIndex((x) => x.id === Number(req.params.id));
    if (i < 0) throw new SimHttpError(404, 'no_such_ssh_key', `SSH key ${req.params.id} not found.`);
    acct.sshKeys.splice(i, 1);
    return ok({ success: true });
  });

  router.add('GET', '/api/v0/instances/:id/ssh', (req: SimRequest) => {
    const inst = liveInstance(ctx, req.params.id);
    // DOC show_instance_ssh_keys.yaml:38-41: "JSON string containing array of SSH key objects".
    const rows = inst.sshKeys.map((k) => ({ id: k.id, name: `key-${k.id}`, public_key: k.publicKey }));
    return ok({
      success: true,
      ssh_keys:
        world.fidelity.instanceKeysShape === 'json_string'
          ? JSON.stringify(rows)
          : rows.map((r, i) => ({ ...keyRow(acct.id, inst.sshKeys[i]!), name: r.name })),
    });
  });
  // DOC attach_ssh.yaml; vast.py attach ssh (repeating it is harmless).
  router.add('POST', '/api/v0/instances/:id/ssh', (req: SimRequest) => {
    const inst = liveInstance(ctx, req.params.id);
    const text = keyText(bodyObject(req.body));
    if (inst.sshKeys.some((k) => k.publicKey === text)) return ok({ success: true, msg: 'SSH key already attached to instance.' });
    inst.sshKeys.push({ id: world.newKeyId(), publicKey: text, createdAt: world.now() });
    return ok({ success: true, msg: `SSH key attached to instance ${inst.id}.` });
  });
  router.add('DELETE', '/api/v0/instances/:id/ssh/:keyId', (req: SimRequest) => {
    const inst = liveInstance(ctx, req.params.id);
    const i = inst.sshKeys.findIndex((k) => k.id === Number(req.params.keyId));
    if (i < 0) throw new SimHttpError(404, 'no_such_ssh_key', `SSH key ${req.params.keyId} is not attached to instance ${inst.id}.`);
    inst.sshKeys.splice(i, 1);
    return ok({ success: true, msg: 'SSH key detached.' });
  });
}
