export {
  DecryptionError,
  InvalidKeyError,
  createMasterKeyring,
  generateMasterKey,
  masterKeyFromBase64,
  masterKeyId,
  masterKeyToBase64,
  openRecord,
  rewrapKey,
  sealRecord,
} from './envelope.ts';
export type { DecryptionFailure, MasterKey, MasterKeyring, SealedRecord } from './envelope.ts';
export {
  generateSigningKey,
  rawPublicKey,
  sign,
  signingKeyFromPem,
  signingKeyId,
  signingKeyToPem,
  verify,
} from './signing-key.ts';
export type { SigningKey } from './signing-key.ts';
export { KeyFileError, loadOrCreateMasterKeyFile, loadOrCreateSigningKeyFile } from './key-files.ts';
export type { KeyFileFailure } from './key-files.ts';
