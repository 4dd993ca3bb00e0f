import { NasError } from '@mitosis/core';
import { Redis } from 'ioredis';
import { ioredisOptions, redactRedisUrls, type RedisTarget } from './redis-url.js';

/** Why a connection failed, in words (never with the password: ioredis messages name host and port only). */
export function describeRedisError(error: unknown): string {
  const e = error as { code?: string; message?: string } | undefined;
  const message = redactRedisUrls(e?.message ?? String(error));
  const code = e?.code ?? '';
  if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(message)) return 'connection refused (is redis-server running there, on that port?)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || /ENOTFOUND|EAI_AGAIN/.test(message)) return 'unknown host';
  if (code === 'ETIMEDOUT' || /ETIMEDOUT|timed? ?out/i.test(message)) return 'no answer (timed out; a firewall, or TLS against a plain server?)';
  if (/NOAUTH|WRONGPASS|invalid password|invalid username-password/i.test(message)) return 'authentication failed (check the password in the URL or MITOSIS_REDIS_PASSWORD)';
  if (/certificate|SSL|TLS|EPROTO/i.test(message)) return `TLS failed: ${message}`;
  if (/Connection is closed|ECONNRESET/i.test(message)) return 'the server closed the connection (TLS against a plain server, or the reverse?)';
  return message;
}

/** The error for a Redis server that cannot be reached or was lost. */
export function redisUnavailable(target: RedisTarget, why: string, remedy: string, details: Record<string, unknown> = {}): NasError {
  return new NasError('E_BACKEND_UNAVAILABLE', `Redis at ${target.display}: ${why}; ${remedy}`, { backend: 'redis', url: target.display, ...details });
}

/**
 * Connects once, without retrying, and checks the server answers (PING) within `timeoutMs`: the check every
 * command makes before it starts, so that a wrong URL or a stopped server is one clear `E_BACKEND_UNAVAILABLE`
 * (exit 2) instead of a stream of ECONNREFUSED. Returns the connected client (the caller quits it).
 */
export async function connectRedis(target: RedisTarget, remedy: string, timeoutMs = 5000): Promise<Redis> {
  const client = new Redis({
    ...ioredisOptions(target),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let lastError: unknown;
  client.on('error', (error: unknown) => {
    lastError = error;
  });
  try {
    await client.connect();
    const pong = await client.ping();
    if (pong !== 'PONG') throw new Error(`unexpected answer to PING: ${pong}`);
    return client;
  } catch (error) {
    client.disconnect();
    throw redisUnavailable(target, describeRedisError(lastError ?? error), remedy);
  }
}

/**
 * ioredis options for BullMQ's connections: commands wait while the connection is re-established (BullMQ
 * needs `maxRetriesPerRequest: null`), reconnecting every second at most until `givenUp()` says the caller
 * has given up on the server (then the connections end and nothing keeps the process alive); the executor's own
 * watchdog decides when a lost server is an error.
 */
export function bullConnection(target: RedisTarget, givenUp: () => boolean = () => false): Record<string, unknown> {
  return {
    ...ioredisOptions(target),
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    retryStrategy: (times: number) => (givenUp() ? null : Math.min(100 * times, 1000)),
  };
}

/**
 * Watches a dedicated connection: `downForMs()` is how long the server has been unreachable (0 while it
 * answers). The client reconnects by itself; `close()` stops it.
 */
export class RedisWatch {
  private readonly client: Redis;
  private downSince: number | null = null;
  private readonly timer: NodeJS.Timeout;
  lastError = '';

  constructor(target: RedisTarget, intervalMs = 250) {
    this.client = new Redis({
      ...ioredisOptions(target),
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      connectTimeout: 2000,
      retryStrategy: (times: number) => Math.min(100 * times, 1000),
    });
    this.client.on('error', (error: unknown) => {
      this.lastError = describeRedisError(error);
    });
    this.timer = setInterval(() => {
      if (this.client.status === 'ready') this.downSince = null;
      else this.downSince ??= Date.now();
    }, intervalMs);
    this.timer.unref();
  }

  /** Resolves once connected (or after `ms`, leaving the caller to see the commands fail). */
  async ready(ms = 5000): Promise<void> {
    if (this.client.status === 'ready') return;
    await new Promise<void>((resolveReady) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolveReady();
      }
      this.client.once('ready', done);
    });
  }

  /** Milliseconds since the connection was lost (0 when it is up). */
  downForMs(): number {
    return this.downSince === null ? 0 : Date.now() - this.downSince;
  }

  /** The raw client (for registry commands). */
  get redis(): Redis {
    return this.client;
  }

  close(): void {
    clearInterval(this.timer);
    this.client.disconnect();
  }
}
