import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate and its key as PEM files, and `pem`: both in one file (what HAProxy's `crt` reads). */
export interface Issued {
  cert: string;
  key: string;
  pem: string;
}

export interface IssueOptions {
  /** Subject alternative names, e.g. `DNS:localhost,IP:127.0.0.1` (the default). */
  san?: string;
  /** `serverAuth` (default) or `clientAuth`. */
  usage?: 'serverAuth' | 'clientAuth';
  /** Days valid (at least 1). */
  days?: number;
  /** Signed by the unrelated CA instead. */
  otherCa?: boolean;
}

/**
 * A private PKI made at test time with openssl (EC P-256, a second or so): a CA, an
 * unrelated CA, and whatever certificates a test asks for. Nothing secret is committed.
 */
export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'pmgr-pki-'));
  /** PEM of the CA that signs `issue`'s certificates, and of an unrelated one. */
  readonly caCert = join(this.dir, 'ca.pem');
  readonly otherCaCert = join(this.dir, 'other-ca.pem');
  private serial = 0;

  static async create(): Promise<TestPki> {
    const pki = new TestPki();
    await Promise.all([pki.makeCa('ca', 'proxymgr test CA'), pki.makeCa('other-ca', 'proxymgr unrelated CA')]);
    return pki;
  }

  private async makeCa(name: string, cn: string): Promise<void> {
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(this.dir, `${name}.key`), '-out', join(this.dir, `${name}.pem`), '-days', '3', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
  }

  /** A new key and certificate for `cn`, signed by the CA; each call gives a new serial and key. */
  async issue(name: string, cn = 'localhost', opts: IssueOptions = {}): Promise<Issued> {
    const f = (ext: string) => join(this.dir, `${name}.${ext}`);
    const ca = opts.otherCa ? 'other-ca' : 'ca';
    writeFileSync(f('ext'), `subjectAltName=${opts.san ?? 'DNS:localhost,IP:127.0.0.1'}\nextendedKeyUsage=${opts.usage ?? 'serverAuth'}\n`);
    await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('key'), '-out', f('csr'), '-subj', `/CN=${cn}`]);
    const days = opts.days ?? 2;
    // OpenSSL 3.0's `x509 -req` cannot backdate a certificate (-not_before came in 3.4).
    if (days < 1) throw new Error('TestPki.issue: OpenSSL 3.0 cannot make an expired certificate here');
    await run('openssl', [
      'x509', '-req', '-in', f('csr'), '-CA', join(this.dir, `${ca}.pem`), '-CAkey', join(this.dir, `${ca}.key`),
      '-set_serial', String(Date.now() * 100 + ++this.serial), '-out', f('crt'), '-days', String(days), '-extfile', f('ext'),
    ]);
    writeFileSync(f('pem'), readFileSync(f('crt'), 'utf8') + readFileSync(f('key'), 'utf8'));
    return { cert: f('crt'), key: f('key'), pem: f('pem') };
  }

  /** The certificate's serial, as openssl prints it (to tell which certificate a server presents). */
  async serialOf(certFile: string): Promise<string> {
    const { stdout } = await run('openssl', ['x509', '-in', certFile, '-noout', '-serial']);
    return stdout.trim().replace(/^serial=/, '');
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
