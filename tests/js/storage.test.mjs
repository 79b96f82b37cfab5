// supabase-js 2.119.0 (storage-js) uploads in each encoding it sends: a raw body (Buffer,
// string, a stream sent chunked) with `x-metadata`, multipart with an empty field name (a
// Blob), a FormData the app built, PUT updates and signed-URL uploads; then downloads, info,
// exists and the error shape of a refused upload.
//
// Run by tests/storage/test_js_client.py, which starts the node and passes SUPABASE_URL,
// SUPABASE_ANON_KEY and SUPABASE_SERVICE_ROLE_KEY.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { before, describe, test } from 'node:test';

import { StorageApiError } from '@supabase/supabase-js';

import { client, SUPABASE_SERVICE_ROLE_KEY } from './client.mjs';

// Bytes that look like multipart framing, so a parser that guesses instead of counting fails.
const CONTENT = Buffer.concat([randomBytes(70_000), Buffer.from('\r\n--boundary-like--\r\n')]);

let files;

before(async () => {
  const storage = client(SUPABASE_SERVICE_ROLE_KEY).storage;
  const bucket = `js-${randomUUID().slice(0, 8)}`;
  const { error } = await storage.createBucket(bucket);
  assert.equal(error, null);
  files = storage.from(bucket);
});

async function downloaded(path) {
  const { data, error } = await files.download(path);
  assert.equal(error, null);
  return Buffer.from(await data.arrayBuffer());
}

async function info(path) {
  const { data, error } = await files.info(path);
  assert.equal(error, null);
  return data;
}

describe('raw body', () => {
  test('a Buffer with metadata, content type and cache control', async () => {
    const { data, error } = await files.upload('raw/buffer.bin', CONTENT, {
      contentType: 'application/x-custom',
      cacheControl: '120',
      metadata: { owner: 'js', n: 1 },
    });
    assert.equal(error, null);
    assert.equal(data.path, 'raw/buffer.bin');
    assert.ok(data.id);
    assert.deepEqual(await downloaded('raw/buffer.bin'), CONTENT);
    const found = await info('raw/buffer.bin');
    assert.equal(found.contentType, 'application/x-custom');
    assert.equal(found.cacheControl, 'max-age=120');
    assert.deepEqual(found.metadata, { owner: 'js', n: 1 });
    assert.equal(found.size, CONTENT.length);
  });

  test('a string', async () => {
    const { error } = await files.upload('raw/text.txt', 'héllo, storage', {
      contentType: 'text/plain;charset=UTF-8',
    });
    assert.equal(error, null);
    assert.equal((await downloaded('raw/text.txt')).toString('utf8'), 'héllo, storage');
  });

  test('a Node stream, sent chunked', async () => {
    const parts = [CONTENT.subarray(0, 1000), CONTENT.subarray(1000)];
    const { error } = await files.upload('raw/stream.bin', Readable.from(parts), {
      contentType: 'application/octet-stream',
    });
    assert.equal(error, null);
    assert.deepEqual(await downloaded('raw/stream.bin'), CONTENT);
  });
});

describe('multipart', () => {
  test('a Blob goes as a part with an empty field name', async () => {
    const blob = new Blob([CONTENT], { type: 'image/png' });
    const { error } = await files.upload('form/blob.png', blob, {
      cacheControl: '60',
      metadata: { from: 'blob' },
    });
    assert.equal(error, null);
    assert.deepEqual(await downloaded('form/blob.png'), CONTENT);
    const found = await info('form/blob.png');
    assert.equal(found.contentType, 'image/png');
    assert.equal(found.cacheControl, 'max-age=60');
    assert.deepEqual(found.metadata, { from: 'blob' });
  });

  test('a FormData the app built', async () => {
    const form = new FormData();
    form.append('cacheControl', '30');
    form.append('', new Blob([CONTENT], { type: 'application/pdf' }), 'doc.pdf');
    const { error } = await files.upload('form/data.pdf', form);
    assert.equal(error, null);
    assert.deepEqual(await downloaded('form/data.pdf'), CONTENT);
    assert.equal((await info('form/data.pdf')).contentType, 'application/pdf');
  });
});

describe('overwrites', () => {
  test('upload refuses an existing key unless upsert, update replaces', async () => {
    assert.equal((await files.upload('over.txt', 'first')).error, null);
    const { error } = await files.upload('over.txt', 'second');
    assert.ok(error instanceof StorageApiError, `expected a StorageApiError, got ${error}`);
    assert.equal(error.statusCode, '409');
    assert.equal((await downloaded('over.txt')).toString(), 'first');
    assert.equal((await files.upload('over.txt', 'third', { upsert: true })).error, null);
    assert.equal((await downloaded('over.txt')).toString(), 'third');
    const updated = await files.update('over.txt', new Blob(['fourth'], { type: 'text/plain' }));
    assert.equal(updated.error, null);
    assert.equal((await downloaded('over.txt')).toString(), 'fourth');
  });

  test('exists answers after upload and remove', async () => {
    assert.equal((await files.exists('over.txt')).data, true);
    assert.equal((await files.remove(['over.txt'])).error, null);
    assert.equal((await files.exists('over.txt')).data, false);
  });
});

describe('signed upload URLs', () => {
  test('uploadToSignedUrl with a Buffer and with a Blob', async () => {
    for (const [path, body] of [
      ['signed/buffer.bin', CONTENT],
      ['signed/blob.bin', new Blob([CONTENT])],
    ]) {
      const signed = await files.createSignedUploadUrl(path);
      assert.equal(signed.error, null);
      const { error } = await files.uploadToSignedUrl(path, signed.data.token, body);
      assert.equal(error, null);
      assert.deepEqual(await downloaded(path), CONTENT);
    }
  });
});
