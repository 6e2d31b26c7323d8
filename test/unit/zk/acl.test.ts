import { defaultAcl, formatAcl, needsCredentials, parseAcl } from '../../../src/zk/acl';

const HASH = 'tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=';

describe('parseAcl', () => {
  test.each([
    ['world:anyone:read', [{ scheme: 'world', id: 'anyone', perms: 1 }], 'world:anyone:r'],
    ['world:anyone:all', [{ scheme: 'world', id: 'anyone', perms: 31 }], 'world:anyone:cdrwa'],
    ['creator:all', [{ scheme: 'auth', id: '', perms: 31 }], 'creator:cdrwa'],
    ['auth::cdrwa', [{ scheme: 'auth', id: '', perms: 31 }], 'creator:cdrwa'],
    ['world:anyone:rw', [{ scheme: 'world', id: 'anyone', perms: 3 }], 'world:anyone:rw'],
    ['world:anyone:acwrd', [{ scheme: 'world', id: 'anyone', perms: 31 }], 'world:anyone:cdrwa'],
    [`digest:user:${HASH}:all`, [{ scheme: 'digest', id: `user:${HASH}`, perms: 31 }], `digest:user:${HASH}:cdrwa`],
    ['ip:10.0.0.0/8:r', [{ scheme: 'ip', id: '10.0.0.0/8', perms: 1 }], 'ip:10.0.0.0/8:r'],
    ['ip:127.0.0.1:cd', [{ scheme: 'ip', id: '127.0.0.1', perms: 12 }], 'ip:127.0.0.1:cd'],
    ['ip:2001:db8::/32:r', [{ scheme: 'ip', id: '2001:db8::/32', perms: 1 }], 'ip:2001:db8::/32:r'],
    [
      `digest:platform:${HASH}:all, world:anyone:read`,
      [
        { scheme: 'digest', id: `platform:${HASH}`, perms: 31 },
        { scheme: 'world', id: 'anyone', perms: 1 },
      ],
      `digest:platform:${HASH}:cdrwa,world:anyone:r`,
    ],
  ])('%s', (spec, acl, canonical) => {
    expect(parseAcl(spec)).toEqual({ ok: true, acl });
    expect(formatAcl(acl as never)).toBe(canonical);
    // The canonical form reads back to the same ACL.
    expect(parseAcl(canonical)).toEqual({ ok: true, acl });
  });

  test.each([
    ['', 'ACL entry 1: empty'],
    ['world:anyone:read,', 'ACL entry 2: empty'],
    ['world', 'ACL entry 1 (world): expected SCHEME:ID:PERMS'],
    ['world:anyone', 'ACL entry 1 (world): PERMS must be all, read or letters of cdrwa'],
    ['world:anyone:rr', 'ACL entry 1 (world): PERMS must be'],
    ['world:anyone:x', 'ACL entry 1 (world): PERMS must be'],
    ['world:anyone:ALL', 'ACL entry 1 (world): PERMS must be'],
    ['world:everyone:r', 'ACL entry 1 (world): the only world id is anyone'],
    ['creator:me:all', 'ACL entry 1 (creator): takes no id'],
    ['auth:all', 'ACL entry 1 (auth): takes no id'],
    ['digest:user:all', 'ACL entry 1 (digest): expected digest:USER:HASH:PERMS'],
    ['digest:user:not-a-hash:all', 'ACL entry 1 (digest): expected digest:USER:HASH:PERMS, HASH being the 28-character base64 id'],
    ['ip:10.0.0.300:r', 'ACL entry 1 (ip): ip:ADDR[/BITS]:PERMS: must be an IP address'],
    ['ip:10.0.0.0/33:r', 'ACL entry 1 (ip): ip:ADDR[/BITS]:PERMS: /BITS must be 0..32'],
    ['sasl:bob:r', 'ACL entry 1 (sasl): unknown scheme'],
    ['creator:all,auth::r', 'ACL entry 2 (auth): names the same identity as an earlier entry'],
  ])('refuses %j', (spec, error) => {
    const r = parseAcl(spec);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.error.startsWith(error)).toBe(true);
  });

  test('a password written where the hash belongs is refused without being repeated', () => {
    const r = parseAcl('world:anyone:r,digest:platform:Sup3r-Secret-Passw0rd:all');
    expect(r.ok).toBe(false);
    expect(JSON.stringify(r)).not.toContain('Sup3r-Secret-Passw0rd');
    expect(JSON.stringify(r)).toContain('ACL entry 2 (digest)');
  });
});

describe('defaultAcl and needsCredentials', () => {
  test('with credentials the writer gets everything and everyone reads; without, what ZooKeeper clients create by default', () => {
    expect(formatAcl(defaultAcl(true))).toBe('creator:cdrwa,world:anyone:r');
    expect(formatAcl(defaultAcl(false))).toBe('world:anyone:cdrwa');
    expect(needsCredentials(defaultAcl(true))).toBe(true);
    expect(needsCredentials(defaultAcl(false))).toBe(false);
  });
});
