// `custodia keys rotate-master`: re-wraps every data key sealed under the master key (witness
// identities, users' TOTP secrets) under a new one. The ciphertexts are not touched: only the
// 32-byte data keys are unwrapped (with any key of `fromRing`) and wrapped again.
import { rewrapKey, type MasterKey, type MasterKeyring } from '../../crypto/index.ts';
import type { Database } from '../../database/client.ts';
import { identityAad } from './identity.service.ts';

export interface RotationReport {
  witnessIdentities: number;
  totpKeys: number;
  alreadyCurrent: number;
}

const BATCH = 200;

export async function rotateMasterKey(db: Database, fromRing: MasterKeyring, newKey: MasterKey): Promise<RotationReport> {
  const report: RotationReport = { witnessIdentities: 0, totpKeys: 0, alreadyCurrent: 0 };
  report.alreadyCurrent += await db.witnessIdentity.count({ where: { masterKeyId: newKey.id } });
  report.alreadyCurrent += await db.user.count({ where: { totpKeyId: newKey.id } });

  for (;;) {
    const rows = await db.witnessIdentity.findMany({
      where: { masterKeyId: { not: newKey.id } },
      select: { witnessId: true, wrappedKey: true, masterKeyId: true },
      take: BATCH,
    });
    if (rows.length === 0) break;
    for (const row of rows) {
      const next = rewrapKey(Buffer.from(row.wrappedKey), row.masterKeyId, identityAad(row.witnessId), fromRing, newKey);
      // Only if nobody re-sealed or erased the identity meanwhile.
      const { count } = await db.witnessIdentity.updateMany({
        where: { witnessId: row.witnessId, masterKeyId: row.masterKeyId, wrappedKey: row.wrappedKey },
        data: { wrappedKey: new Uint8Array(next.wrappedKey), masterKeyId: next.masterKeyId },
      });
      report.witnessIdentities += count;
    }
  }

  for (;;) {
    const users = await db.user.findMany({
      where: { totpKeyId: { not: null }, NOT: { totpKeyId: newKey.id } },
      select: { id: true, totpKey: true, totpKeyId: true },
      take: BATCH,
    });
    const sealed = users.filter((user) => user.totpKey !== null);
    if (sealed.length === 0) break;
    for (const user of sealed) {
      const next = rewrapKey(Buffer.from(user.totpKey!), user.totpKeyId!, `totp:${user.id}`, fromRing, newKey);
      const { count } = await db.user.updateMany({
        where: { id: user.id, totpKeyId: user.totpKeyId, totpKey: user.totpKey },
        data: { totpKey: new Uint8Array(next.wrappedKey), totpKeyId: next.masterKeyId },
      });
      report.totpKeys += count;
    }
  }
  return report;
}
