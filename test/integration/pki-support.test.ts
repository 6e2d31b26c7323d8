import { execFileSync } from 'node:child_process';
import { TestPki } from '../support/pki';

// The test PKI itself: what later TLS tests lean on.
test('TestPki issues server and client certificates its CA verifies and the other CA does not', async () => {
  const pki = await TestPki.create();
  try {
    const server = await pki.issue('server');
    const client = await pki.issue('client', 'sidecar', { usage: 'clientAuth' });
    const verify = (ca: string, cert: string) => {
      try {
        execFileSync('openssl', ['verify', '-CAfile', ca, cert], { stdio: 'pipe' });
        return true;
      } catch {
        return false;
      }
    };
    expect(verify(pki.caCert, server.cert)).toBe(true);
    expect(verify(pki.caCert, client.cert)).toBe(true);
    expect(verify(pki.otherCaCert, server.cert)).toBe(false);
    // Issued again under the same name (a renewal): the same files, a new certificate.
    const before = await pki.serialOf(server.cert);
    const renewed = await pki.issue('server');
    expect(renewed.cert).toBe(server.cert);
    expect(await pki.serialOf(renewed.cert)).not.toBe(before);
  } finally {
    pki.cleanup();
  }
});
