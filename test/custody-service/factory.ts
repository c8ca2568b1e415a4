// Evidence rows for custody tests, written straight into the database (a blob and its evidence).
import { createHash, randomBytes } from 'node:crypto';
import type { Database } from '../../src/database/client.ts';

export interface TestEvidence {
  id: string;
  caseId: string;
  sha256: string;
}

export async function insertEvidence(db: Database, caseId: string, userId: string): Promise<TestEvidence> {
  const sha256 = createHash('sha256').update(randomBytes(16)).digest('hex');
  await db.blob.create({ data: { sha256, sizeBytes: 16n, storageKey: `sha256/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}` } });
  const evidence = await db.evidence.create({
    data: {
      caseId,
      sha256,
      sizeBytes: 16n,
      mediaType: 'application/octet-stream',
      title: 'An item',
      source: { kind: 'witness' },
      acquisition: 'direct_upload',
      collectedAt: new Date(),
      collectedBy: userId,
      submittedBy: userId,
    },
  });
  return { id: evidence.id, caseId, sha256 };
}
