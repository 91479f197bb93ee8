import { describeCaller, userTag, type Caller } from './caller.js';

/**
 * An approval (token, elicitation answer, approval page, a recorded "no") is valid only for the user
 * who was asked: the user is bound into what the confirmation store digests. The local caller binds
 * exactly as before, so stdio tokens and digests are unchanged.
 */
export function bindCaller(bound: unknown, caller: Caller): unknown {
  if (!caller.authenticated) return bound;
  return { bound, for_user: caller.user };
}

const TAG_SEP = '.';

/**
 * The token the agent is given: the store's token plus a tag of the user it was issued to, so that a
 * token presented by someone else is refused with a message that says so (the binding refuses it
 * anyway: the tag only explains; a forged tag still fails the binding).
 */
export function tagToken(token: string, caller: Caller): string {
  return caller.authenticated && caller.user !== null ? `${token}${TAG_SEP}${userTag(caller.user, 8)}` : token;
}

/** The store's token and whether its tag names this caller (a token without a tag was issued to the local user). */
export function untagToken(presented: string, caller: Caller): { token: string; sameUser: boolean } {
  const at = presented.lastIndexOf(TAG_SEP);
  const token = at > 0 ? presented.slice(0, at) : presented;
  const tag = at > 0 ? presented.slice(at + 1) : null;
  const expected = caller.authenticated && caller.user !== null ? userTag(caller.user, 8) : null;
  return { token, sameUser: tag === expected };
}

export function otherUserRefusal(kind: string, caller: Caller): string {
  return (
    `Refused: this confirmation token was issued to another user, and an approval is valid only for the person who was asked (you are ${describeCaller(caller)}). ` +
    `The token is now used up. Nothing was done. Call ${kind} again without confirmation_token to get your own proposal, show it to your user, and wait for their answer.`
  );
}
