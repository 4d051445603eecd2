/**
 * `simtap-host cert`: a development certificate authority and a certificate for `localhost` (DNS `localhost`,
 * IP 127.0.0.1 and ::1) signed by it, made with node-forge (RSA 2048, SHA-256), for `wss://` on a developer's
 * machine. Clients trust `ca.crt` (`NODE_EXTRA_CA_CERTS=ca.crt`, or the `ca` option of `ws`). Never for production:
 * the CA's key sits next to it on disk.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

/** The PEM texts of a development CA and a localhost certificate. */
export interface DevCertificates {
  readonly caCert: string;
  readonly caKey: string;
  readonly cert: string;
  readonly key: string;
}

/** The files `simtap-host cert` writes, by role. */
export const CERT_FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  cert: 'localhost.crt',
  key: 'localhost.key',
} as const satisfies Record<keyof DevCertificates, string>;

function serial(): string {
  const b = randomBytes(16);
  b[0]! &= 0x7f; // a positive serial number
  return b.toString('hex');
}

/** Makes a CA (10 years) and a localhost certificate it signs (`days`, default 825). */
export function makeDevCertificates(o: { now?: Date; days?: number } = {}): DevCertificates {
  const { pki, md } = forge;
  const now = o.now ?? new Date();
  const caKeys = pki.rsa.generateKeyPair({ bits: 2048 });
  const ca = pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = serial();
  ca.validity.notBefore = new Date(now.getTime() - 60_000);
  ca.validity.notAfter = new Date(now.getTime() + 10 * 365 * 86_400_000);
  const caName = [
    { name: 'commonName', value: 'simtap development CA' },
    { name: 'organizationName', value: 'simtap (development only)' },
  ];
  ca.setSubject(caName);
  ca.setIssuer(caName);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKeys.privateKey, md.sha256.create());

  const keys = pki.rsa.generateKeyPair({ bits: 2048 });
  const cert = pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + (o.days ?? 825) * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: 'localhost' }]);
  cert.setIssuer(caName);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: 'localhost' },
        { type: 7, ip: '127.0.0.1' },
        { type: 7, ip: '::1' },
      ],
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKeys.privateKey, md.sha256.create());
  return {
    caCert: pki.certificateToPem(ca),
    caKey: pki.privateKeyToPem(caKeys.privateKey),
    cert: pki.certificateToPem(cert),
    key: pki.privateKeyToPem(keys.privateKey),
  };
}

/**
 * Writes {@link makeDevCertificates} into `dir` (created if missing; keys readable by the owner only). Refuses to
 * replace existing files unless `force`: a replaced CA would no longer match what clients were told to trust.
 * @returns the paths written, by role, or the existing file that stopped it
 */
export function writeDevCertificates(
  dir: string,
  o: { force?: boolean } = {},
): { readonly written: Record<keyof DevCertificates, string> } | { readonly exists: string } {
  const paths = Object.fromEntries(Object.entries(CERT_FILES).map(([k, f]) => [k, join(dir, f)])) as Record<
    keyof DevCertificates,
    string
  >;
  if (!o.force) for (const p of Object.values(paths)) if (existsSync(p)) return { exists: p };
  mkdirSync(dir, { recursive: true });
  const pems = makeDevCertificates();
  for (const [k, p] of Object.entries(paths) as [keyof DevCertificates, string][]) {
    const secret = k === 'key' || k === 'caKey';
    writeFileSync(p, pems[k], { mode: secret ? 0o600 : 0o644 });
    if (secret) chmodSync(p, 0o600);
  }
  return { written: paths };
}
