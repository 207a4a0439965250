import { generateKeyPairSync } from "node:crypto";

let pem: string | undefined;
/** An RSA key in the PKCS#1 PEM form GitHub hands out for apps; the fake GitHub verifies JWTs with it. */
export function appPrivateKey(): string {
  pem ??= generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  return pem;
}
