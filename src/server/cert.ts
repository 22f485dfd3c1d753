/**
 * The daemon's TLS certificate: self-signed, made once at the first start with openssl (ECDSA
 * P-256, 10 years, the node name as subject), as Proxmox does for its proxy. Its SHA-256
 * fingerprint is what a user compares when the browser asks.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { GuestvaultError } from '../errors.js';
import { etcPath } from '../home.js';

export function certFile(): string {
  return etcPath('api.pem');
}

export function keyFile(): string {
  return etcPath('priv/api.key');
}

export interface CertInfo {
  path: string;
  subject: string;
  notBefore: string;
  notAfter: string;
  /** SHA-256, as colon-separated upper-case hex (as browsers and Proxmox show it). */
  fingerprint: string;
}

/** Creates the certificate and key when they are missing; returns what is there. */
export function ensureCertificate(commonName: string): { cert: Buffer; key: Buffer } {
  const cert = certFile();
  const key = keyFile();
  if (!existsSync(cert) || !existsSync(key)) {
    mkdirSync(dirname(key), { recursive: true, mode: 0o700 });
    mkdirSync(dirname(cert), { recursive: true });
    const tmpKey = `${key}.new`;
    const tmpCert = `${cert}.new`;
    const r = spawnSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650',
      '-subj', `/CN=${commonName}`, '-addext', `subjectAltName=DNS:${commonName},DNS:localhost,IP:127.0.0.1`,
      '-keyout', tmpKey, '-out', tmpCert,
    ], { encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      rmSync(tmpKey, { force: true });
      rmSync(tmpCert, { force: true });
      const missing = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
      throw new GuestvaultError(missing ? 'E_TOOL_MISSING' : 'E_CERT', missing ? 'cannot run openssl to make the certificate (install the Debian package openssl)' : `openssl could not make the certificate: ${r.stderr.trim()}`);
    }
    chmodSync(tmpKey, 0o600);
    renameSync(tmpKey, key);
    renameSync(tmpCert, cert);
  }
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

export function certInfo(): CertInfo {
  const path = certFile();
  if (!existsSync(path)) throw new GuestvaultError('E_NOT_FOUND', `no certificate yet: ${path} is made when the daemon first starts`);
  const x = new X509Certificate(readFileSync(path));
  return { path, subject: x.subject, notBefore: x.validFrom, notAfter: x.validTo, fingerprint: x.fingerprint256 };
}
