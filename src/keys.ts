// The service's keys: the master key that wraps every identity's data key, and the Ed25519 key
// that signs custody checkpoints and bundles. From the environment, or generated once into the
// data directory (mode 0600) for a single-machine install.
import {
  createMasterKeyring,
  loadOrCreateMasterKeyFile,
  loadOrCreateSigningKeyFile,
  masterKeyFromBase64,
  signingKeyFromPem,
  type MasterKeyring,
  type SigningKey,
} from './crypto/index.ts';
import { ConfigError, type Config } from './config.ts';

export interface Keys {
  masterRing: MasterKeyring;
  signing: SigningKey;
}

interface Logger {
  warn(obj: object, msg?: string): void;
}

function masterKeyFromEnv(name: string, text: string) {
  try {
    return masterKeyFromBase64(text);
  } catch {
    throw new ConfigError(`${name} must hold 32 bytes in base64 (generate one with: openssl rand -base64 32)`);
  }
}

export async function loadKeys(config: Config, log: Logger): Promise<Keys> {
  let current;
  if (config.masterKey) {
    current = masterKeyFromEnv('CUSTODIA_MASTER_KEY', config.masterKey);
  } else {
    const loaded = await loadOrCreateMasterKeyFile(config.masterKeyFile);
    if (loaded.created) {
      log.warn(
        { file: config.masterKeyFile },
        'generated a master key into the data directory: back it up apart from the database, or set CUSTODIA_MASTER_KEY; without it no witness identity can be read',
      );
    }
    current = loaded.key;
  }
  const older = config.previousMasterKeys.map((text) => masterKeyFromEnv('CUSTODIA_PREVIOUS_MASTER_KEYS', text));

  let signing: SigningKey;
  if (config.signingKey) {
    try {
      signing = signingKeyFromPem(config.signingKey, config.signingKeyName);
    } catch {
      throw new ConfigError('CUSTODIA_SIGNING_KEY must hold an Ed25519 private key in PKCS#8 PEM (newlines may be written as \\n)');
    }
  } else {
    const loaded = await loadOrCreateSigningKeyFile(config.signingKeyFile, config.signingKeyName);
    if (loaded.created) log.warn({ file: config.signingKeyFile, keyId: loaded.key.keyId }, 'generated the custody signing key into the data directory');
    signing = loaded.key;
  }
  return { masterRing: createMasterKeyring(current, older), signing };
}
