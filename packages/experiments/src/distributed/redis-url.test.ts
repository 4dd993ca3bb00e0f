import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NasError } from '@mitosis/core';
import { studyQueueName } from './protocol.js';
import { ioredisOptions, parseRedisUrl, redactRedisUrls } from './redis-url.js';

describe('Redis URLs', () => {
  it('reads host, port, database, user and password, and never shows the password', () => {
    const t = parseRedisUrl('redis://alice:s3cr%40t@queue.lan:6380/2', {});
    assert.deepEqual(
      { host: t.host, port: t.port, db: t.db, username: t.username, password: t.password, tls: t.tls },
      { host: 'queue.lan', port: 6380, db: 2, username: 'alice', password: 's3cr@t', tls: false },
    );
    assert.equal(t.display, 'redis://alice:***@queue.lan:6380/2');
    assert.deepEqual(ioredisOptions(t), { host: 'queue.lan', port: 6380, db: 2, username: 'alice', password: 's3cr@t' });
  });

  it('defaults to port 6379 and database 0, takes the password from MITOSIS_REDIS_PASSWORD, and uses TLS for rediss://', () => {
    const plain = parseRedisUrl('redis://127.0.0.1', {});
    assert.equal(plain.port, 6379);
    assert.equal(plain.db, 0);
    assert.equal(plain.password, undefined);
    assert.equal(plain.display, 'redis://127.0.0.1:6379');
    const tls = parseRedisUrl('rediss://cache.example.com:6390', { MITOSIS_REDIS_PASSWORD: 'from-env' });
    assert.equal(tls.tls, true);
    assert.equal(tls.password, 'from-env');
    assert.equal(tls.display, 'rediss://:***@cache.example.com:6390');
    assert.deepEqual(ioredisOptions(tls)['tls'], { servername: 'cache.example.com' });
    assert.equal(parseRedisUrl('redis://[::1]:7000', {}).display, 'redis://[::1]:7000');
  });

  it('rejects other schemes, bad ports, paths and query strings with E_USAGE and a redacted URL', () => {
    for (const [url, why] of [
      ['http://:pw@host:6379', /scheme must be redis: or rediss:/],
      ['redis://:pw@host:99999', /not a URL|bad port/],
      ['redis://:pw@host:6379/queue', /database number/],
      ['redis://:pw@host:6379/0?tls=1', /query parameters/],
      ['not a url at all', /not a URL/],
    ] as const) {
      assert.throws(
        () => parseRedisUrl(url, {}, '--executor'),
        (e: unknown) => NasError.is(e, 'E_USAGE') && why.test(e.message) && !e.message.includes(':pw@') && e.message.startsWith('--executor'),
        url,
      );
    }
  });

  it('redacts every Redis URL in a text', () => {
    assert.equal(
      redactRedisUrls('to redis://u:pw@h:1/2 and rediss://:x@y:3, not http://a:b@c'),
      'to redis://u:***@h:1/2 and rediss://:***@y:3, not http://a:b@c',
    );
    assert.equal(redactRedisUrls('redis://h:1'), 'redis://h:1');
  });

  it('names a study queue after the study id and its directory, without characters BullMQ refuses', () => {
    const a = studyQueueName('fashion quick:v2', '/data/studies/a');
    assert.match(a, /^study-fashion-quick-v2-[0-9a-f]{8}$/);
    assert.notEqual(studyQueueName('fashion quick:v2', '/data/studies/b'), a);
    assert.equal(studyQueueName('fashion quick:v2', '/data/studies/a'), a);
  });
});
