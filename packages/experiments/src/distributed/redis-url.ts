import { NasError } from '@mitosis/core';

/** A Redis server to connect to, parsed from a `redis://` or `rediss://` URL. */
export interface RedisTarget {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username?: string;
  readonly password?: string;
  /** `rediss://`: TLS, checked against Node's CA store (add a private CA with NODE_EXTRA_CA_CERTS). */
  readonly tls: boolean;
  /** The URL with the password replaced by `***`: the only form that is ever printed or logged. */
  readonly display: string;
}

/** Environment variable with the Redis password, used when the URL has none (keeps it out of `ps` listings). */
export const REDIS_PASSWORD_ENV = 'MITOSIS_REDIS_PASSWORD';

/**
 * Replaces the password of every `redis://` / `rediss://` URL in `text` by `***` (and a user-only credential
 * too, which Redis treats as a password), so that messages and logs never show one.
 */
export function redactRedisUrls(text: string): string {
  return redactCredentials(text, /\b(rediss?:\/\/)([^@\s/]*)@/gi);
}

function redactCredentials(text: string, pattern: RegExp): string {
  return text.replace(pattern, (_m, scheme: string, cred: string) => {
    const colon = cred.indexOf(':');
    const user = colon < 0 ? '' : cred.slice(0, colon);
    return `${scheme}${user}:***@`;
  });
}

/**
 * Reads `redis://[[user]:password@]host[:port][/db]` or `rediss://…` (TLS). The password may also come from
 * MITOSIS_REDIS_PASSWORD. `E_USAGE` (the URL redacted) for anything else: another scheme, no host, a bad port
 * or database number, query parameters.
 */
export function parseRedisUrl(url: string, env: NodeJS.ProcessEnv = process.env, flag = '--redis'): RedisTarget {
  // Whatever the scheme: a mistyped `http://user:pw@…` must not print its password either.
  const shown = redactCredentials(url, /\b([a-z][a-z0-9+.-]*:\/\/)([^@\s/]*)@/gi);
  const bad = (why: string): NasError =>
    new NasError('E_USAGE', `${flag} ${shown}: ${why}; expected redis://[:password@]host[:port][/db] or rediss://… for TLS`, { url: shown });
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad('not a URL');
  }
  const scheme = u.protocol.toLowerCase();
  if (scheme !== 'redis:' && scheme !== 'rediss:') throw bad(`the scheme must be redis: or rediss:, not ${u.protocol}`);
  if (u.hostname === '') throw bad('no host');
  if (u.search !== '' || u.hash !== '') throw bad('query parameters and fragments are not supported');
  const port = u.port === '' ? 6379 : Number(u.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`bad port ${u.port}`);
  const path = u.pathname.replace(/^\/+/, '');
  if (path !== '' && !/^\d{1,5}$/.test(path)) throw bad(`the path must be a database number, not /${path}`);
  const db = path === '' ? 0 : Number(path);
  const username = u.username === '' ? undefined : decodeURIComponent(u.username);
  const fromUrl = u.password === '' ? undefined : decodeURIComponent(u.password);
  const fromEnv = env[REDIS_PASSWORD_ENV];
  const password = fromUrl ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const hostShown = host.includes(':') ? `[${host}]` : host;
  const credShown = password === undefined ? (username === undefined ? '' : `${username}@`) : `${username ?? ''}:***@`;
  return {
    host,
    port,
    db,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    tls: scheme === 'rediss:',
    display: `${scheme}//${credShown}${hostShown}:${port}${db === 0 ? '' : `/${db}`}`,
  };
}

/** ioredis options for a target (the caller adds retry behaviour). */
export function ioredisOptions(target: RedisTarget): Record<string, unknown> {
  return {
    host: target.host,
    port: target.port,
    db: target.db,
    ...(target.username === undefined ? {} : { username: target.username }),
    ...(target.password === undefined ? {} : { password: target.password }),
    ...(target.tls ? { tls: { servername: target.host } } : {}),
  };
}
