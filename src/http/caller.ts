// Who is asking, and from where: what services need to decide and to audit.

export type GlobalRole = 'admin' | 'member';

export interface SignedInUser {
  id: string;
  role: GlobalRole;
  sessionId: string;
}

export interface Actor {
  user: SignedInUser | null;
  requestId: string;
  address: string;
  userAgent: string | null;
}

/** The signed-in actor; routes that need one are refused before the handler runs (src/http/authenticate.ts). */
export type Caller = Actor & { user: SignedInUser };
