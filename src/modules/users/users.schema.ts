// The contract's user, and how a row becomes one: never the password hash or the TOTP secret.
import { Type, type Static } from 'typebox';

export const UserSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  email: Type.String(),
  displayName: Type.String(),
  role: Type.Union([Type.Literal('admin'), Type.Literal('member')]),
  disabled: Type.Boolean(),
  totpEnabled: Type.Boolean(),
  version: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
});
export type User = Static<typeof UserSchema>;

export const GlobalRoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('member')]);
export const EmailSchema = Type.String({ minLength: 3, maxLength: 254 });
export const DisplayNameSchema = Type.String({ minLength: 1, maxLength: 200 });
/** Bounded here so that a huge body is refused before anyone hashes it. */
export const PasswordSchema = Type.String({ minLength: 1, maxLength: 1024 });

export interface UserRow {
  id: string;
  email: string;
  displayName: string;
  role: string;
  disabled: boolean;
  totpEnabled: boolean;
  version: number;
  createdAt: Date;
}

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    displayName: row.displayName,
    role: row.role as User['role'],
    disabled: row.disabled,
    totpEnabled: row.totpEnabled,
    version: row.version,
    createdAt: row.createdAt.toISOString(),
  };
}
