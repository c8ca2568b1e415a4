// The contract's table of who may do what in a case (API.md, "Roles"), as data.
// `visibleWith` names the action that lets a caller see the record at all: without it a refusal
// is the same 404 as a missing record; with it, 403.

export const CASE_ROLES = ['lead', 'investigator', 'reviewer', 'counsel', 'observer'] as const;
export type CaseRole = (typeof CASE_ROLES)[number];

const ALL: readonly CaseRole[] = CASE_ROLES;
const REVIEWER_PLUS: readonly CaseRole[] = ['lead', 'investigator', 'reviewer', 'counsel'];
const INVESTIGATOR_PLUS: readonly CaseRole[] = ['lead', 'investigator'];
const LEAD: readonly CaseRole[] = ['lead'];

interface Rule {
  roles: readonly CaseRole[];
  /** Admins may do this on any case without being a member (managing, never reading content). */
  admin?: boolean;
  visibleWith?: string;
}

export const CASE_PERMISSIONS = {
  'case.view': { roles: ALL, admin: true },
  'case.update': { roles: LEAD, visibleWith: 'case.view' },
  // Reads answer 404 to those who may not do them (API.md, "Roles"), so no `visibleWith` here.
  'members.read': { roles: LEAD, admin: true },
  'members.manage': { roles: LEAD, admin: true, visibleWith: 'case.view' },
  'audit.read': { roles: LEAD },

  'incident.read': { roles: ALL },
  'incident.write': { roles: INVESTIGATOR_PLUS, visibleWith: 'incident.read' },
  'revisions.read': { roles: REVIEWER_PLUS },

  'witness.read': { roles: REVIEWER_PLUS },
  'witness.write': { roles: INVESTIGATOR_PLUS, visibleWith: 'witness.read' },
  // Investigators only for witnesses they registered: checked on the record by the witnesses service.
  'identity.access': { roles: INVESTIGATOR_PLUS },
  'identity.erase': { roles: LEAD, visibleWith: 'identity.access' },

  'statement.read': { roles: REVIEWER_PLUS },
  'statement.write': { roles: INVESTIGATOR_PLUS, visibleWith: 'statement.read' },

  'evidence.read': { roles: ALL },
  'evidence.content': { roles: REVIEWER_PLUS },
  'evidence.write': { roles: INVESTIGATOR_PLUS, visibleWith: 'evidence.read' },
  'custody.read': { roles: REVIEWER_PLUS },
  'custody.append': { roles: ['lead', 'investigator', 'reviewer'], visibleWith: 'evidence.read' },
  'review.read': { roles: REVIEWER_PLUS },
  // Never the submitter of the item (four-eyes): checked on the record by the reviews service.
  'review.create': { roles: ['lead', 'reviewer'], visibleWith: 'evidence.read' },

  'export.create': { roles: ['lead', 'counsel'], visibleWith: 'case.view' },
  'export.create_full': { roles: LEAD, visibleWith: 'case.view' },
  // Leads read every export of the case; others only their own (checked on the record).
  'export.read_all': { roles: LEAD },
} as const satisfies Record<string, Rule>;

export type CaseAction = keyof typeof CASE_PERMISSIONS;

// Every `visibleWith` names an action of the table.
const VISIBILITY_IS_AN_ACTION: Record<CaseAction, { roles: readonly CaseRole[]; visibleWith?: CaseAction }> = CASE_PERMISSIONS;
void VISIBILITY_IS_AN_ACTION;

export function roleMay(role: CaseRole | null, action: CaseAction): boolean {
  const rule: Rule = CASE_PERMISSIONS[action];
  return role !== null && rule.roles.includes(role);
}

export function adminMay(action: CaseAction): boolean {
  const rule: Rule = CASE_PERMISSIONS[action];
  return rule.admin === true;
}

export function visibilityOf(action: CaseAction): CaseAction {
  const rule: Rule = CASE_PERMISSIONS[action];
  return (rule.visibleWith as CaseAction | undefined) ?? action;
}
