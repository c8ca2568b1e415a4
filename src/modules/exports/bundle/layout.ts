// Where each file of an exported case file (a BagIt bag, RFC 8493) lives, relative to the bag
// root, which is the zip's root. Shared by the writer and the offline verifier.

export const BAGIT_TXT = 'bagit.txt';
export const BAG_INFO_TXT = 'bag-info.txt';
export const MANIFEST_TXT = 'manifest-sha256.txt';
export const MANIFEST_SIG = 'manifest-sha256.txt.sig';
export const TAGMANIFEST_TXT = 'tagmanifest-sha256.txt';

/** The tag files listed in the tag manifest, in the order they are written. */
export const TAG_FILES = [BAGIT_TXT, BAG_INFO_TXT, MANIFEST_TXT, MANIFEST_SIG] as const;
/** Every file that may sit at the bag root. */
export const ROOT_FILES: readonly string[] = [...TAG_FILES, TAGMANIFEST_TXT];

export const PAYLOAD_DIR = 'data/';
export const MANIFEST_JSON = 'data/manifest.json';
export const VERIFY_MD = 'data/VERIFY.md';
export const EVIDENCE_CSV = 'data/evidence.csv';
export const EVIDENCE_DIR = 'data/evidence/';
export const RECORD_KINDS = ['incidents', 'statements', 'witnesses', 'evidence', 'reviews'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];
export const recordPath = (kind: RecordKind): string => `data/records/${kind}.json`;

export const CUSTODY_LOG = 'data/custody/log.jsonl';
export const CHECKPOINT_TXT = 'data/custody/checkpoint.txt';
export const CHECKPOINT_BODY = 'data/custody/checkpoint.body';
export const CHECKPOINT_SIG = 'data/custody/checkpoint.sig';
export const PUBLIC_KEY_PEM = 'data/custody/public-key.pem';

export const BAGIT_TXT_CONTENT = 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n';

export const evidencePath = (evidenceId: string, safeName: string): string => `${EVIDENCE_DIR}${evidenceId}/${safeName}`;
