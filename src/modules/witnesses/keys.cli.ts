// `custodia keys rotate-master --new-key-stdin`: re-wraps every data key under a new master key.
import pino from 'pino';
import { baseLogOptions } from '../../http/log-redaction.ts';
import { InvalidKeyError, masterKeyFromBase64 } from '../../crypto/index.ts';
import { loadKeys } from '../../keys.ts';
import type { SecretCommandContext } from '../../cli/context.ts';
import { rotateMasterKey } from './rotate-master-key.ts';

const commandError = (message: string) => Object.assign(new Error(message), { name: 'CommandError' });

export async function rotateMasterCommand(args: string[], ctx: SecretCommandContext): Promise<number> {
  const unknown = args.filter((arg) => arg !== '--new-key-stdin');
  if (unknown.length) throw commandError(`keys rotate-master: unknown argument ${unknown[0]} (usage: keys rotate-master [--new-key-stdin])`);
  const config = ctx.loadConfig();
  const text = await ctx.readPassword(args.includes('--new-key-stdin'));
  let newKey;
  try {
    newKey = masterKeyFromBase64(text);
  } catch (error) {
    if (error instanceof InvalidKeyError) throw commandError('the new master key must be 32 bytes in base64 (generate one with: openssl rand -base64 32)');
    throw error;
  }
  const keys = await loadKeys(config, pino(baseLogOptions('warn'), pino.destination(2)));
  if (keys.masterRing.current.id === newKey.id) throw commandError('the new master key is the current one');
  const report = await ctx.withDatabase(config, (db) => rotateMasterKey(db, keys.masterRing, newKey));
  ctx.out.write(
    `re-wrapped ${report.witnessIdentities} witness identity key(s) and ${report.totpKeys} TOTP key(s) under master key ${newKey.id}` +
      `${report.alreadyCurrent ? ` (${report.alreadyCurrent} already were)` : ''}; no ciphertext was touched.\n` +
      `Now, on every instance: set CUSTODIA_MASTER_KEY to the new key and put the old one (id ${keys.masterRing.current.id}) in\n` +
      `CUSTODIA_PREVIOUS_MASTER_KEYS, then restart. Keep the old key there until every instance runs with the new one\n` +
      `and this command, run again, reports 0 re-wrapped; then remove it and destroy every copy of it.\n`,
  );
  return 0;
}
