// data/VERIFY.md: how an accountability body checks the bag without trusting this service.
// A test extracts the commands from the first ```sh block and runs them as written.
import { createHash, createPublicKey } from 'node:crypto';
import {
  CHECKPOINT_BODY,
  CHECKPOINT_SIG,
  CHECKPOINT_TXT,
  CUSTODY_LOG,
  EVIDENCE_CSV,
  MANIFEST_JSON,
  MANIFEST_SIG,
  MANIFEST_TXT,
  PUBLIC_KEY_PEM,
} from './layout.ts';

export type VerifyInstructionsInput = {
  exportId: string;
  caseReference: string;
  createdAt: string;
  serviceVersion: string;
  keyName: string;
  keyId: string;
  publicKeyPem: string;
};

const opensslVerify = (file: string, signature: string): string =>
  `openssl pkeyutl -verify -pubin -inkey ${PUBLIC_KEY_PEM} -rawin -in ${file} -sigfile ${signature}`;

/** The three commands of VERIFY.md, in order, to run from the bag root. */
export const STANDARD_TOOL_COMMANDS: readonly string[] = [
  opensslVerify(MANIFEST_TXT, MANIFEST_SIG),
  `sha256sum -c ${MANIFEST_TXT}`,
  opensslVerify(CHECKPOINT_BODY, CHECKPOINT_SIG),
];

/** SHA-256 of the key's DER SubjectPublicKeyInfo, as `openssl pkey -pubin -outform DER | sha256sum` prints it. */
export function publicKeyFingerprint(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ format: 'der', type: 'spki' });
  return createHash('sha256').update(der).digest('hex');
}

export function verifyInstructions(input: VerifyInstructionsInput): string {
  const fingerprint = publicKeyFingerprint(input.publicKeyPem);
  return `# Verifying this case file

Export \`${input.exportId}\` of case \`${input.caseReference}\`, made on ${input.createdAt} by
Custodia ${input.serviceVersion}. This folder is a BagIt bag (RFC 8493): \`bagit.txt\` sits at its
root, next to \`manifest-sha256.txt\`, which lists the SHA-256 of every file under \`data/\`.

## 1. With standard tools

Unzip the bundle, open a terminal in the folder that holds \`bagit.txt\` (the bag root) and run
(OpenSSL 3.0 or later; on macOS use \`shasum -a 256 -c\` instead of \`sha256sum -c\`):

\`\`\`sh
${STANDARD_TOOL_COMMANDS.join('\n')}
\`\`\`

1. The first line must print \`Signature Verified Successfully\`: \`${MANIFEST_TXT}\` was signed
   by the key in \`${PUBLIC_KEY_PEM}\` and has not changed since.
2. The second must print \`OK\` for every file and nothing else: every file of the payload
   (evidence, records, custody log, this file) is exactly the one that was signed. Check too
   that no file exists under \`data/\` that the manifest does not list.
3. The third must print \`Signature Verified Successfully\`: \`${CHECKPOINT_BODY}\` (the first
   three lines of \`${CHECKPOINT_TXT}\`: log origin, size and root hash) was signed by the same key.

## 2. With \`custodia verify\`

\`\`\`sh
custodia verify <bundle.zip>
custodia verify <bundle.zip> --key <the organisation's published key.pem>
\`\`\`

It checks, without network or database: the zip (no unsafe or duplicate names), the BagIt
manifests and Payload-Oxum, the manifest signature, \`${MANIFEST_JSON}\` against the files, the
checkpoint signature, every custody log entry's leaf hash and inclusion proof against the
checkpoint, and every evidence file's SHA-256 against its custody entries. It exits 0 only when
everything holds, and otherwise names the first thing that does not.

## 3. Which key to trust

The public key in \`${PUBLIC_KEY_PEM}\` only proves that the bag is consistent with itself:
whoever made the bag could have made that key too. Compare it with the key the organisation
publishes (\`GET /api/v1/custody/keys\` on its Custodia service, or another channel you trust),
or give that key to \`custodia verify --key\`. This bag was signed by:

- key name: \`${input.keyName}\`
- key id (signed-note, 4 bytes): \`${input.keyId}\`
- SHA-256 of the public key (DER): \`${fingerprint}\`

The last one is what \`openssl pkey -pubin -in ${PUBLIC_KEY_PEM} -outform DER | sha256sum\` prints.

## 4. The custody log

Each line of \`${CUSTODY_LOG}\` is \`{seq, entry, leafHash, inclusionProof}\`. The leaf hash is
SHA-256(0x00 ‖ entry encoded as RFC 8785 canonical JSON); \`inclusionProof\` is the RFC 9162
audit path from that leaf to the root hash of \`${CHECKPOINT_TXT}\` (a C2SP signed note; its
signature line carries the key id and the same signature as \`${CHECKPOINT_SIG}\`). Every
evidence file is \`data/evidence/<evidence id>/<name>\` and its SHA-256 equals the
\`evidenceSha256\` of each of its entries. A line \`{seq, withheld, leafHash, inclusionProof}\`
is an entry the redaction kept back (it quotes, for example, a witness's name in a file name): its
text is not in the bag, but its leaf hash is still proven to be in the checkpoint's tree.

## 5. What was left out

\`${MANIFEST_JSON}\` counts what was included and what was withheld, and why (for example
statements whose witnesses did not consent to sharing). In \`${EVIDENCE_CSV}\`, a value starting
with \`=\`, \`+\`, \`-\` or \`@\` is prefixed with an apostrophe so that spreadsheets do not run it
as a formula; \`data/records/*.json\` hold the exact values.
`;
}
