import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import zookeeper, { type Client } from 'node-zookeeper-client';
import { useTls, type ZkTls, type ZkTlsOptions } from '../../src/zk/tls';
import { freePort, isListening, waitUntil } from './net';
import { TestZooKeeper, ZkTestClient } from './zookeeper';

const run = promisify(execFile);

/**
 * Netty jars that ZooKeeper's secureClientPort needs beyond what zookeeper.jar's manifest
 * lists (Debian's libnetty-java, a dependency of the zookeeper package): SslHandler is a
 * netty-codec decoder, and the server bootstrap resolves through netty-resolver.
 */
export const NETTY_JARS = ['netty-codec', 'netty-resolver', 'netty-transport-native-unix-common'].map((j) => `/usr/share/java/${j}.jar`);

/** Keystores for ZooKeeper and PEM files for Node, made with the JDK's keytool (openssl only to take the client key out as PEM). */
export interface Pki {
  dir: string;
  password: string;
  /** PEM: the CA that signed the server and client certificates, and an unrelated one. */
  caPem: string;
  otherCaPem: string;
  /** PKCS12 for ZooKeeper: the server key and chain (valid, and expired two days ago), and a truststore with the CA. */
  serverKeystore: string;
  expiredServerKeystore: string;
  truststore: string;
  /** PEM client certificate (signed by the CA) and its key, for ssl.clientAuth=need. */
  clientCertPem: string;
  clientKeyPem: string;
  cleanup(): void;
}

/** Makes a fresh PKI in a temporary directory: about 15 keytool runs, in two parallel waves (~3-5 s). */
export async function makePki(): Promise<Pki> {
  const dir = mkdtempSync(join(tmpdir(), 'pmgr-zk-pki-'));
  const f = (name: string) => join(dir, name);
  const password = 'test-password';
  const keytool = (...args: string[]) => run('keytool', [...args, '-storepass', password, '-storetype', 'PKCS12'], { cwd: dir });

  const ca = async (name: string, cn: string) => {
    // bc:c marks it a CA (OpenSSL refuses a chain through a certificate without it).
    await keytool('-genkeypair', '-alias', 'ca', '-keyalg', 'EC', '-groupname', 'secp256r1', '-dname', `CN=${cn}`, '-ext', 'bc:c', '-validity', '3', '-keystore', `${name}.p12`);
    await keytool('-exportcert', '-rfc', '-alias', 'ca', '-keystore', `${name}.p12`, '-file', `${name}.pem`);
  };
  /** A key pair in `${name}.p12`, its certificate signed by the CA into `${name}.pem`; `validity` is keytool's -startdate/-validity. */
  const signed = async (name: string, cn: string, ext: string[], validity: string[]) => {
    await keytool('-genkeypair', '-alias', name, '-keyalg', 'EC', '-groupname', 'secp256r1', '-dname', `CN=${cn}`, '-keystore', `${name}.p12`);
    await keytool('-certreq', '-alias', name, '-keystore', `${name}.p12`, '-file', `${name}.csr`);
    await keytool('-gencert', '-rfc', '-alias', 'ca', '-keystore', 'ca.p12', '-infile', `${name}.csr`, '-outfile', `${name}.pem`, ...ext.flatMap((e) => ['-ext', e]), ...validity);
    // The reply is imported over the key pair, which needs its issuer trusted in the same store.
    await keytool('-importcert', '-noprompt', '-alias', 'ca', '-file', 'ca.pem', '-keystore', `${name}.p12`);
    await keytool('-importcert', '-alias', name, '-file', `${name}.pem`, '-keystore', `${name}.p12`);
  };
  const serverExt = ['SAN=dns:localhost,ip:127.0.0.1', 'EKU=serverAuth'];

  await Promise.all([ca('ca', 'proxymgr test CA'), ca('other-ca', 'proxymgr unrelated CA')]);
  await Promise.all([
    signed('server', 'localhost', serverExt, ['-validity', '3']),
    // Valid for one day, from three days ago: expired two days ago.
    signed('server-expired', 'localhost', serverExt, ['-startdate', '-3d', '-validity', '1']),
    // The client's address as a SAN too, in case the server checks client hostnames (ssl.hostnameVerification).
    signed('client', 'proxymgr-client', ['SAN=dns:localhost,ip:127.0.0.1', 'EKU=clientAuth'], ['-validity', '3']).then(() =>
      // keytool cannot write a private key out; Node needs it as PEM.
      run('openssl', ['pkcs12', '-in', 'client.p12', '-nocerts', '-nodes', '-passin', `pass:${password}`, '-out', 'client-key.pem'], { cwd: dir }),
    ),
    keytool('-importcert', '-noprompt', '-alias', 'ca', '-file', 'ca.pem', '-keystore', 'trust.p12'),
  ]);
  return {
    dir,
    password,
    caPem: f('ca.pem'),
    otherCaPem: f('other-ca.pem'),
    serverKeystore: f('server.p12'),
    expiredServerKeystore: f('server-expired.p12'),
    truststore: f('trust.p12'),
    clientCertPem: f('client.pem'),
    clientKeyPem: f('client-key.pem'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TlsOptions {
  /** ZooKeeper's ssl.clientAuth: `need` refuses clients without a certificate from the truststore's CA. */
  clientAuth?: 'none' | 'need';
  /** Serve the expired server certificate. */
  expired?: boolean;
}

/**
 * A standalone ZooKeeper 3.8 listening on both its plain clientPort (`port`, which the
 * readiness check and plaintext comparisons use) and a TLS secureClientPort (`securePort`).
 */
export class TlsZooKeeper extends TestZooKeeper {
  securePort = 0;

  constructor(readonly pki: Pki, readonly tlsOptions: TlsOptions = {}) {
    super();
    this.jars = NETTY_JARS;
  }

  get secureConnectString(): string {
    return `127.0.0.1:${this.securePort}`;
  }

  async start(): Promise<this> {
    if (!this.securePort) {
      this.securePort = await freePort();
      const { pki } = this;
      // zoo.cfg keys ZooKeeper does not know become `zookeeper.`-prefixed system properties,
      // which is where the Netty factory and X509Util read these from.
      this.extra.push(
        `secureClientPort=${this.securePort}`,
        'serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory',
        `ssl.keyStore.location=${this.tlsOptions.expired ? pki.expiredServerKeystore : pki.serverKeystore}`,
        `ssl.keyStore.password=${pki.password}`,
        'ssl.keyStore.type=PKCS12',
        `ssl.trustStore.location=${pki.truststore}`,
        `ssl.trustStore.password=${pki.password}`,
        'ssl.trustStore.type=PKCS12',
        `ssl.clientAuth=${this.tlsOptions.clientAuth ?? 'none'}`,
      );
    }
    await super.start();
    await waitUntil('the secureClientPort to listen', () => isListening(this.securePort), 10_000, 50);
    return this;
  }

  /** A raw node-zookeeper-client on the secure port with the TLS hook, not yet connected. */
  tlsClient(tls: Partial<ZkTlsOptions> = {}, onFailure?: Parameters<typeof useTls>[2]): { client: Client; tls: ZkTls } {
    const client = zookeeper.createClient(this.secureConnectString, { sessionTimeout: 5000, spinDelay: 100, retries: 0 });
    return { client, tls: useTls(client, { caFile: this.pki.caPem, ...tls }, onFailure) };
  }

  /** Like `client()`, connected over TLS on the secure port (for benches and tests that watch through TLS). */
  async tlsTestClient(tls: Partial<ZkTlsOptions> = {}): Promise<ZkTestClient> {
    const { client } = this.tlsClient(tls);
    await new Promise<void>((resolve) => {
      client.once('connected', () => resolve());
      client.connect();
    });
    return new ZkTestClient(client);
  }
}
