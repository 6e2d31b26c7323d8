import { certDirChange, certFileAction, loadedFingerprint, loadedUnder } from '../../../src/plan/cert-plan';

describe('certFileAction: content changed -> runtime; unknown name -> reload; bad file -> refused', () => {
  test.each([
    ['same certificate', { ok: true as const, fingerprint: 'AA' }, 'AA', { kind: 'none' }],
    ['new content under a known name', { ok: true as const, fingerprint: 'BB' }, 'AA', { kind: 'swap' }],
    ['a name HAProxy does not know', { ok: true as const, fingerprint: 'BB' }, undefined, { kind: 'reload', reason: 'certificate /c/a.pem is not loaded yet' }],
    ['a broken file', { ok: false as const, error: 'no private key' }, 'AA', { kind: 'refuse', error: 'no private key' }],
    ['a broken file HAProxy does not know either', { ok: false as const, error: 'ENOENT' }, undefined, { kind: 'refuse', error: 'ENOENT' }],
  ])('%s', (_what, disk, loaded, action) => {
    expect(certFileAction('/c/a.pem', disk, loaded)).toEqual(action);
  });
});

describe('certDirChange: the name set of a crt directory', () => {
  test.each([
    [['/d/a.pem'], ['/d/a.pem'], { added: [], removed: [] }],
    [['/d/a.pem', '/d/b.pem'], ['/d/a.pem'], { added: ['/d/b.pem'], removed: [] }],
    [['/d/b.pem'], ['/d/a.pem', '/d/b.pem'], { added: [], removed: ['/d/a.pem'] }],
    [['/d/c.pem'], ['/d/a.pem'], { added: ['/d/c.pem'], removed: ['/d/a.pem'] }],
  ])('disk %j, loaded %j', (disk, loaded, change) => {
    expect(certDirChange(disk, loaded)).toEqual(change);
  });
});

test('loadedUnder reads `show ssl cert` (transactions marked *), only direct entries of the directory', () => {
  const listing = '# transaction\n*/d/a.pem\n# filename\n/d/a.pem\n/d/b.pem\n/d/sub/c.pem\n/dd/x.pem\n/other.pem\n';
  expect(loadedUnder(listing, '/d')).toEqual(['/d/a.pem', '/d/b.pem']);
});

test('loadedFingerprint reads `show ssl cert <name>`', () => {
  const reply = 'Filename: /c/a.pem\nStatus: Used\nSerial: 0B2D\nSHA1 FingerPrint: 28d3c19ae8d864836769fe92a3012a982c4b1f3f\nSubject: /CN=localhost\n';
  expect(loadedFingerprint(reply)).toBe('28D3C19AE8D864836769FE92A3012A982C4B1F3F');
  expect(loadedFingerprint("Can't display the certificate: Not found or the certificate is a bundle!\n")).toBeUndefined();
});
