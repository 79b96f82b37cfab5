// supabase-js 2.119.0 `/rest/v1` writes, RPC and errors against a running Performer node, in the
// forms where the JS client differs from supabase-py (supabase-wire.md §1.1, 1.3, 1.4): insert
// without select sends no return preference, upsert options, rpc by POST/GET/HEAD, rollback(),
// and errors returned as values with PostgREST's codes and statuses.
//
// Writes touch genres and reviews only: the books the read suite (rest.test.mjs) checks stay put.
// Run by tests/rest/test_api_js_client.py (see rest.test.mjs).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { client, SUPABASE_SERVICE_ROLE_KEY } from './client.mjs';
import { assertError, assertOk, KINDRED, PARABLE, titles } from './rest-support.mjs';

const service = client(SUPABASE_SERVICE_ROLE_KEY);

async function reviewsOf(bookId) {
  const { data, error } = await service
    .from('reviews')
    .select('stars, body')
    .eq('book_id', bookId)
    .order('id');
  assert.equal(error, null);
  return data;
}

describe('insert', () => {
  test('without select(): no return preference, 201 and data null', async () => {
    const result = await service.from('reviews').insert({ book_id: 1, stars: 5, body: 'plain' });
    assertOk(result, 201, null);
    assert.equal(result.statusText, 'Created');
    assert.equal(result.count, null);
    assert.deepEqual(await reviewsOf(1), [{ stars: 5, body: 'plain' }]);
  });

  test('select() returns the inserted rows, single() the one object', async () => {
    const rows = await service
      .from('reviews')
      .insert([
        { book_id: 2, stars: 4, body: 'first' },
        { book_id: 2, stars: 2, body: 'second' },
      ])
      .select('stars, body, books(title)');
    assertOk(rows, 201, [
      { stars: 4, body: 'first', books: { title: 'The Left Hand of Darkness' } },
      { stars: 2, body: 'second', books: { title: 'The Left Hand of Darkness' } },
    ]);
    const one = await service
      .from('reviews')
      .insert({ book_id: 2, body: 'third' })
      .select()
      .single();
    assertOk(one, 201);
    assert.equal(one.data.body, 'third');
    assert.equal(one.data.stars, 3);
  });

  test("count: 'exact' counts the inserted rows", async () => {
    const result = await service
      .from('reviews')
      .insert([{ book_id: 3 }, { book_id: 3 }], { count: 'exact' });
    assertOk(result, 201, null);
    assert.equal(result.count, 2);
  });

  test('missing keys are null, or the column default with defaultToNull: false', async () => {
    const rows = [
      { book_id: 4, stars: 1, body: 'terse' },
      { book_id: 4, body: 'no stars given' },
    ];
    const asNull = await service.from('reviews').insert(rows);
    assertError(asNull, 400, '23502');
    const asDefault = await service
      .from('reviews')
      .insert(rows, { defaultToNull: false })
      .select('stars');
    assertOk(asDefault, 201, [{ stars: 1 }, { stars: 3 }]);
  });
});

describe('upsert', () => {
  test('onConflict merges into the existing row', async () => {
    const result = await service
      .from('genres')
      .upsert({ name: 'Classic', description: 'Still read' }, { onConflict: 'name' })
      .select('id, name, description');
    assertOk(result, 200, [{ id: 3, name: 'Classic', description: 'Still read' }]);
  });

  test('ignoreDuplicates keeps the existing row and returns only the inserted ones', async () => {
    const result = await service
      .from('genres')
      .upsert([{ name: 'Classic', description: 'ignored' }, { name: 'Poetry' }], {
        onConflict: 'name',
        ignoreDuplicates: true,
      })
      .select('name, description');
    assertOk(result, 201, [{ name: 'Poetry', description: null }]);
    const classic = await service
      .from('genres')
      .select('description')
      .eq('name', 'Classic')
      .single();
    assertOk(classic, 200, { description: 'Still read' });
  });

  test('on the primary key by default: rows come back in body order, or as ordered', async () => {
    const poetry = await service.from('genres').select('id').eq('name', 'Poetry').single();
    const id = poetry.data.id;
    const mixed = await service
      .from('genres')
      .upsert([
        { id, name: 'Poetry', description: 'Verse' },
        { id: 1000, name: 'Drama', description: 'Plays' },
      ])
      .select('id, description');
    assertOk(mixed, 201, [
      { id, description: 'Verse' },
      { id: 1000, description: 'Plays' },
    ]);
    const ordered = await service
      .from('genres')
      .upsert([
        { id: 999, name: 'Satire' },
        { id: 1000, name: 'Drama' },
        { id, name: 'Poetry' },
      ])
      .select('id, description')
      .order('id', { ascending: false });
    assertOk(ordered, 201, [
      { id: 1000, description: 'Plays' },
      { id: 999, description: null },
      { id, description: 'Verse' },
    ]);
  });
});

describe('update and delete', () => {
  test('update without select answers 204; with select the changed rows', async () => {
    await service.from('reviews').insert([
      { book_id: 5, body: 'a' },
      { book_id: 5, body: 'b' },
    ]);
    const bare = await service.from('reviews').update({ stars: 1 }).eq('book_id', 5);
    assertOk(bare, 204, null);
    const selected = await service
      .from('reviews')
      .update({ stars: 2 }, { count: 'exact' })
      .eq('book_id', 5)
      .eq('body', 'b')
      .select('body, stars');
    assertOk(selected, 200, [{ body: 'b', stars: 2 }]);
    assert.equal(selected.count, 1);
    assert.deepEqual(await reviewsOf(5), [
      { stars: 1, body: 'a' },
      { stars: 2, body: 'b' },
    ]);
  });

  test('delete without select answers 204; with select the removed rows', async () => {
    const selected = await service
      .from('reviews')
      .delete()
      .eq('book_id', 5)
      .eq('body', 'a')
      .select('body');
    assertOk(selected, 200, [{ body: 'a' }]);
    const bare = await service.from('reviews').delete().eq('book_id', 5);
    assertOk(bare, 204, null);
    assert.deepEqual(await reviewsOf(5), []);
  });
});

describe('rollback()', () => {
  test('a write answers as if committed, then leaves no trace', async () => {
    const inserted = await service
      .from('genres')
      .insert({ name: 'Ghost stories' })
      .select('name')
      .rollback();
    assertOk(inserted, 201, [{ name: 'Ghost stories' }]);
    const after = await service.from('genres').select('name').eq('name', 'Ghost stories');
    assertOk(after, 200, []);
    const removed = await service
      .from('reviews')
      .delete()
      .eq('book_id', 1)
      .select('body')
      .rollback();
    assertOk(removed, 200, [{ body: 'plain' }]);
    assert.deepEqual(await reviewsOf(1), [{ stars: 5, body: 'plain' }]);
  });
});

describe('rpc', () => {
  test('POST with a JSON body, scalar and object arguments', async () => {
    assertOk(await service.rpc('add', { a: 2, b: 3 }), 200, 5);
    assertOk(await service.rpc('series_of', { meta: { series: 'Earthsea' } }), 200, 'Earthsea');
  });

  test('get: true sends the arguments in the query, arrays as {a,b}', async () => {
    assertOk(await service.rpc('add', { a: 40, b: 2 }, { get: true }), 200, 42);
    assertOk(
      await service.rpc('first_tag', { tags: ['time travel', 'x'] }, { get: true }),
      200,
      'time travel',
    );
  });

  test('head: true with a count answers the count and no data', async () => {
    const result = await service.rpc(
      'books_since',
      { since: 1970 },
      { head: true, count: 'exact' },
    );
    assertOk(result, 200, null);
    assert.equal(result.count, 2);
  });

  test('a set-returning function takes select, filters, order and range', async () => {
    const result = await service
      .rpc('books_since', { since: 1960 }, { count: 'exact' })
      .select('title')
      .neq('id', 1)
      .order('year', { ascending: false })
      .range(0, 1);
    assertOk(result, 206, titles(PARABLE, KINDRED));
    assert.equal(result.count, 3);
    const one = await service
      .rpc('books_by', { author: 'Octavia E. Butler' })
      .select('year')
      .eq('id', 3)
      .single();
    assertOk(one, 200, { year: 1979 });
  });

  test('an unknown function is 404 PGRST202', async () => {
    assertError(await service.rpc('no_such_function', { x: 1 }), 404, 'PGRST202');
  });
});

describe('errors are returned, not thrown', () => {
  test('an unknown table is 404 PGRST205', async () => {
    const result = await service.from('nope').select();
    assertError(
      result,
      404,
      'PGRST205',
      "Could not find the table 'public.nope' in the schema cache",
    );
  });

  test('an unknown column is 400 42703', async () => {
    const result = await service.from('books').select('title, nope');
    assertError(result, 400, '42703', 'column books.nope does not exist');
  });

  test('a value of the wrong type is 400 22P02', async () => {
    const result = await service.from('books').select('id').eq('year', 'soon');
    assertError(result, 400, '22P02', 'invalid input syntax for type integer: "soon"');
  });

  test('a filter that does not parse is 400 PGRST100', async () => {
    const result = await service.from('books').select('id').filter('year', 'eqq', 1);
    assertError(result, 400, 'PGRST100');
  });

  test('an offset past the end with a count is 416 PGRST103', async () => {
    const result = await service.from('books').select('id', { count: 'exact' }).range(10, 20);
    assertError(result, 416, 'PGRST103', 'Requested range not satisfiable');
  });

  test('a duplicate key is 409 23505 with the key in details', async () => {
    const result = await service.from('genres').insert({ name: 'Classic' });
    assertError(
      result,
      409,
      '23505',
      'duplicate key value violates unique constraint "genres_name_key"',
    );
    assert.equal(result.error.details, 'Key (name)=(Classic) already exists.');
  });

  test('a missing foreign row is 409 23503', async () => {
    const result = await service.from('reviews').insert({ book_id: 999 });
    assertError(result, 409, '23503');
    assert.equal(result.error.details, 'Key (book_id)=(999) is not present in table "books".');
  });

  test('an unknown column in the body is 400 PGRST204', async () => {
    const result = await service.from('reviews').insert({ book_id: 1, nope: true }).select();
    assertError(
      result,
      400,
      'PGRST204',
      "Could not find the 'nope' column of 'reviews' in the schema cache",
    );
  });
});
