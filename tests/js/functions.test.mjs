// supabase-js 2.119.0 (functions-js) `functions.invoke` against deployed functions: JSON, text,
// binary (ArrayBuffer and Blob) and FormData bodies, methods, headers both ways, a name with a
// query string, and the errors a client sees: a function's own status, a resource limit and an
// unknown function.
//
// Run by tests/functions/test_js_client.py, which deploys the functions named here (js-echo
// answers {"json": <the request it received>}) and passes SUPABASE_URL and the keys.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { FunctionsHttpError } from '@supabase/supabase-js';

import { client } from './client.mjs';

const functions = client().functions;

async function echoed(options) {
  const { data, error, response } = await functions.invoke('js-echo', options);
  assert.equal(error, null);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /^application\/json/);
  return data;
}

describe('request bodies', () => {
  test('an object goes as JSON with POST', async () => {
    const seen = await echoed({ body: { name: 'Ada', n: 3 } });
    assert.equal(seen.method, 'POST');
    assert.equal(seen.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(seen.body), { name: 'Ada', n: 3 });
  });

  test('a string goes as text', async () => {
    const seen = await echoed({ body: 'plain words, ünïcode' });
    assert.equal(seen.headers['content-type'], 'text/plain');
    assert.equal(seen.body, 'plain words, ünïcode');
  });

  test('an ArrayBuffer goes as binary and arrives as base64', async () => {
    const bytes = Uint8Array.from([0, 255, 1, 254, 0x80, 10]);
    const seen = await echoed({ body: bytes.buffer });
    assert.equal(seen.headers['content-type'], 'application/octet-stream');
    assert.equal(seen.body, undefined);
    assert.deepEqual(Buffer.from(seen.body_base64, 'base64'), Buffer.from(bytes));
  });

  test('a Blob keeps its type', async () => {
    const blob = new Blob([Uint8Array.from([1, 2, 3])], { type: 'image/png' });
    const seen = await echoed({ body: blob });
    assert.equal(seen.headers['content-type'], 'image/png');
    assert.deepEqual(Buffer.from(seen.body_base64, 'base64'), Buffer.from([1, 2, 3]));
  });

  test('FormData goes as multipart', async () => {
    const form = new FormData();
    form.append('field', 'value');
    const seen = await echoed({ body: form });
    assert.match(seen.headers['content-type'], /^multipart\/form-data; boundary=/);
    const body = seen.body ?? Buffer.from(seen.body_base64, 'base64').toString();
    assert.match(body, /name="field"\r\n\r\nvalue/);
  });
});

describe('methods, paths and headers', () => {
  test('GET with a query string and no body', async () => {
    const seen = await echoed({ method: 'GET' });
    assert.equal(seen.method, 'GET');
    assert.equal(seen.body, '');
    const withQuery = await functions.invoke('js-echo?page=2&tag=x', { method: 'GET' });
    assert.equal(withQuery.error, null);
    assert.deepEqual(withQuery.data.query, { page: '2', tag: 'x' });
  });

  test('PUT, PATCH and DELETE reach the function', async () => {
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      const seen = await echoed({ method, body: { method } });
      assert.equal(seen.method, method);
    }
  });

  test('custom headers arrive; the credentials do not, the principal does', async () => {
    const seen = await echoed({ headers: { 'x-trace-id': 'abc-123' }, body: {} });
    assert.equal(seen.headers['x-trace-id'], 'abc-123');
    assert.match(seen.headers['x-client-info'], /supabase-js/);
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.headers.apikey, undefined);
    assert.equal(seen.principal.role, 'anon');
  });

  test("the function's response headers and version reach the client", async () => {
    const { data, error, response } = await functions.invoke('js-bytes');
    assert.equal(error, null);
    assert.equal(response.headers.get('x-made-by'), 'wat');
    assert.equal(response.headers.get('x-function-version'), '1');
    assert.ok(data instanceof Blob);
    assert.deepEqual(Buffer.from(await data.arrayBuffer()), Buffer.from([0, 1, 2, 253, 254, 255]));
  });

  test('a text response is text', async () => {
    const { data, error } = await functions.invoke('js-text');
    assert.equal(error, null);
    assert.equal(data, 'hello in plain text');
  });
});

describe('errors', () => {
  test("a function's own non-2xx status is a FunctionsHttpError with its body", async () => {
    const { data, error } = await functions.invoke('js-teapot', { body: {} });
    assert.equal(data, null);
    assert.ok(error instanceof FunctionsHttpError);
    assert.equal(error.message, 'Edge Function returned a non-2xx status code');
    assert.equal(error.context.status, 418);
    assert.deepEqual(await error.context.json(), { error: 'short and stout' });
  });

  test('a resource limit is 546 with its reason', async () => {
    const { error } = await functions.invoke('js-loop');
    assert.ok(error instanceof FunctionsHttpError);
    assert.equal(error.context.status, 546);
    assert.equal(error.context.headers.get('x-relay-error'), null);
    const body = await error.context.json();
    assert.equal(body.code, 'cpu_limit');
  });

  test('an unknown function is 404 NOT_FOUND', async () => {
    const { error } = await functions.invoke('js-nobody-deployed-this');
    assert.ok(error instanceof FunctionsHttpError);
    assert.equal(error.context.status, 404);
    assert.equal((await error.context.json()).code, 'NOT_FOUND');
  });
});
