import { generateKeyPairSync } from "node:crypto";
import ssh2 from "ssh2";

let pem: string | undefined;
/** An RSA key in the PKCS#1 PEM form GitHub hands out for apps; the fake GitHub verifies JWTs with it. */
export function appPrivateKey(): string {
  pem ??= generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  return pem;
}

/**
 * An ed25519 SSH key pair in OpenSSH form (`{ private, public }`), one that ssh2 can read back.
 * ssh2 1.17.0's `utils.generateKeyPairSync("ed25519")` drops a leading zero byte of the public key,
 * so about 1 pair in 256 is malformed (mscdex/ssh2#1513; CI failed on one at start-up of the fake
 * Gerrit's SSH daemon). A test never wants that pair: make another.
 */
export function sshKeyPair(): { private: string; public: string } {
  for (let tries = 0; ; tries++) {
    const pair = ssh2.utils.generateKeyPairSync("ed25519");
    const readable = !(ssh2.utils.parseKey(pair.private) instanceof Error) && !(ssh2.utils.parseKey(pair.public) instanceof Error);
    if (readable) return pair;
    if (tries === 20) throw new Error("ssh2 made 20 unreadable ed25519 key pairs in a row: not the 1-in-256 bug of mscdex/ssh2#1513");
  }
}
