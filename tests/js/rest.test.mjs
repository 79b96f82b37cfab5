// supabase-js 2.119.0 `/rest/v1` reads against a running Performer node, in the forms where
// the JS client differs from supabase-py (supabase-wire.md §1.1–1.3): selects with count/head,
// embeds, filters as postgrest-js writes them, order/range, single/maybeSingle/csv. Writes, RPC
// and errors are in rest-writes.test.mjs, row-level security in rest-rls.test.mjs.
//
// Run by tests/rest/test_api_js_client.py, which starts a node with tests/js/rest_migrations and
// passes SUPABASE_URL, SUPABASE_ANON_KEY and SUPABASE_SERVICE_ROLE_KEY.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { client, SUPABASE_SERVICE_ROLE_KEY } from './client.mjs';
import {
  assertError,
  assertOk,
  BEOWULF,
  EARTHSEA,
  KINDRED,
  LEFT_HAND,
  PARABLE,
  titles,
} from './rest-support.mjs';

const service = client(SUPABASE_SERVICE_ROLE_KEY);

describe('select', () => {
  test('count=exact with a range answers 206, the rows and the total', async () => {
    const result = await service
      .from('books')
      .select('title', { count: 'exact' })
      .order('id')
      .range(1, 2);
    assertOk(result, 206, titles(LEFT_HAND, KINDRED));
    assert.equal(result.count, 5);
  });

  test('head: true answers the count and no data', async () => {
    const result = await service
      .from('books')
      .select('*', { count: 'exact', head: true })
      .gt('year', 1968);
    assertOk(result, 200, null);
    assert.equal(result.count, 3);
  });

  test('without a count option the count is null', async () => {
    const result = await service.from('authors').select('name').order('id').limit(1);
    assertOk(result, 200, [{ name: 'Ursula K. Le Guin' }]);
    assert.equal(result.count, null);
  });

  test('whitespace in the column list is stripped; aliases and JSON paths', async () => {
    const result = await service
      .from('books')
      .select(
        `
        name:title,
        pages:meta->pages,
        series:meta->>series
      `,
      )
      .eq('id', 1);
    assertOk(result, 200, [{ name: EARTHSEA, pages: 183, series: 'Earthsea' }]);
  });
});

describe('embeds', () => {
  test('to-one answers an object, or null', async () => {
    const result = await service
      .from('books')
      .select('title, authors(name)')
      .in('id', [1, 5])
      .order('id');
    assertOk(result, 200, [
      { title: EARTHSEA, authors: { name: 'Ursula K. Le Guin' } },
      { title: BEOWULF, authors: { name: 'Anonymous' } },
    ]);
  });

  test('to-many answers an array, empty when nothing matches', async () => {
    const result = await service
      .from('authors')
      .select('name, books(title)')
      .order('id')
      .order('id', { referencedTable: 'books' });
    assertOk(result, 200, [
      { name: 'Ursula K. Le Guin', books: titles(EARTHSEA, LEFT_HAND) },
      { name: 'Octavia E. Butler', books: titles(KINDRED, PARABLE) },
      { name: 'Anonymous', books: titles(BEOWULF) },
    ]);
  });

  test('many-to-many through the junction table', async () => {
    const result = await service
      .from('books')
      .select('title, genres(name)')
      .in('id', [1, 5])
      .order('id')
      .order('name', { referencedTable: 'genres' });
    assertOk(result, 200, [
      { title: EARTHSEA, genres: [{ name: 'Classic' }, { name: 'Fantasy, High' }] },
      { title: BEOWULF, genres: [] },
    ]);
  });

  test('!inner drops parents without a match of the embedded filter', async () => {
    const result = await service
      .from('books')
      .select('title, genres!inner(name)')
      .eq('genres.name', 'Classic')
      .order('id');
    assertOk(result, 200, [
      { title: EARTHSEA, genres: [{ name: 'Classic' }] },
      { title: LEFT_HAND, genres: [{ name: 'Classic' }] },
    ]);
  });

  test('a spread lifts the to-one columns into the row', async () => {
    const result = await service
      .from('books')
      .select('title, ...authors(author:name, born)')
      .eq('id', 3);
    assertOk(result, 200, [{ title: KINDRED, author: 'Octavia E. Butler', born: 1947 }]);
  });

  test('an embed with an alias, nested, with limit on the referenced table', async () => {
    const result = await service
      .from('authors')
      .select('name, latest:books(title, genres(name))')
      .eq('id', 2)
      .order('year', { referencedTable: 'latest', ascending: false })
      .limit(1, { referencedTable: 'latest' });
    assertOk(result, 200, [
      {
        name: 'Octavia E. Butler',
        latest: [{ title: PARABLE, genres: [{ name: 'Science (Fiction)' }] }],
      },
    ]);
  });
});

describe('filters', () => {
  test('comparison operators and is(null)', async () => {
    const cases = [
      [service.from('books').select('title').eq('year', 1979), titles(KINDRED)],
      [
        service.from('books').select('title').neq('author_id', 1).gte('year', 1900),
        titles(KINDRED, PARABLE),
      ],
      [
        service.from('books').select('title').gt('year', 1968).lt('year', 1980),
        titles(LEFT_HAND, KINDRED),
      ],
      [service.from('books').select('title').lte('year', 1968), titles(EARTHSEA)],
      [service.from('books').select('title').is('year', null), titles(BEOWULF)],
      [service.from('books').select('title').like('title', '%the%'), titles(PARABLE)],
      [service.from('books').select('title').ilike('title', 'the%'), titles(LEFT_HAND)],
      [service.from('books').select('title').eq('meta->>series', 'Parable'), titles(PARABLE)],
    ];
    for (const [query, expected] of cases) assertOk(await query.order('id'), 200, expected);
  });

  test('in() quotes only values with , ( or ) — a double quote goes through bare', async () => {
    const result = await service
      .from('genres')
      .select('name')
      .in('name', ['Fantasy, High', 'Science (Fiction)', 'Say "Hi"', 'Missing'])
      .order('id');
    assertOk(result, 200, [
      { name: 'Fantasy, High' },
      { name: 'Science (Fiction)' },
      { name: 'Say "Hi"' },
    ]);
    const numbers = await service.from('books').select('id').in('id', [4, 2, 2]).order('id');
    assertOk(numbers, 200, [{ id: 2 }, { id: 4 }]);
    const none = await service.from('books').select('id').in('id', []);
    assertOk(none, 200, []);
  });

  test('notIn() and not()', async () => {
    const notIn = await service.from('books').select('id').notIn('id', [1, 2, 3]).order('id');
    assertOk(notIn, 200, [{ id: 4 }, { id: 5 }]);
    const notNull = await service.from('books').select('id').not('year', 'is', null).order('id');
    assertOk(notNull, 200, [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }]);
    const notClassic = await service
      .from('books')
      .select('id')
      .not('tags', 'cs', '{classic}')
      .order('id');
    assertOk(notClassic, 200, [{ id: 3 }, { id: 4 }, { id: 5 }]);
  });

  test('contains / containedBy / overlaps with arrays: elements unquoted, spaces too', async () => {
    const contains = await service
      .from('books')
      .select('title')
      .contains('tags', ['scifi', 'time travel']);
    assertOk(contains, 200, titles(KINDRED));
    const containedBy = await service
      .from('books')
      .select('title')
      .containedBy('tags', ['scifi', 'classic', 'dystopia', 'time travel'])
      .order('id');
    assertOk(containedBy, 200, titles(LEFT_HAND, KINDRED, PARABLE));
    const overlaps = await service
      .from('books')
      .select('title')
      .overlaps('tags', ['fantasy', 'epic'])
      .order('id');
    assertOk(overlaps, 200, titles(EARTHSEA, BEOWULF));
  });

  test('contains / containedBy with objects (JSON.stringify) on jsonb', async () => {
    const contains = await service
      .from('books')
      .select('title')
      .contains('meta', { series: 'Parable' });
    assertOk(contains, 200, titles(PARABLE));
    const containedBy = await service
      .from('books')
      .select('title')
      .containedBy('meta', { pages: 304, series: 'none' });
    assertOk(containedBy, 200, titles(LEFT_HAND));
  });

  test('textSearch (smoke: FTS has its own suite)', async () => {
    const result = await service
      .from('books')
      .select('title')
      .textSearch('blurb', 'wizards', { type: 'plain', config: 'english' });
    assertOk(result, 200, titles(EARTHSEA));
  });

  test('or() on the table and on a referenced table', async () => {
    const top = await service
      .from('books')
      .select('title')
      .or('year.lt.1969,title.eq.Kindred,and(year.gt.1990,tags.cs.{dystopia})')
      .order('id');
    assertOk(top, 200, titles(EARTHSEA, KINDRED, PARABLE));
    const nested = await service
      .from('authors')
      .select('name, books(title)')
      .or('year.gt.1990,title.eq.Kindred', { referencedTable: 'books' })
      .in('id', [1, 2])
      .order('id')
      .order('id', { referencedTable: 'books' });
    assertOk(nested, 200, [
      { name: 'Ursula K. Le Guin', books: [] },
      { name: 'Octavia E. Butler', books: titles(KINDRED, PARABLE) },
    ]);
  });

  test('match() is one eq per key', async () => {
    const result = await service.from('books').select('title').match({ author_id: 2, year: 1993 });
    assertOk(result, 200, titles(PARABLE));
  });
});

describe('modifiers', () => {
  test('order follows Postgres null placement, and nullsFirst overrides it', async () => {
    const [LE_GUIN, BUTLER, ANONYMOUS] = ['Ursula K. Le Guin', 'Octavia E. Butler', 'Anonymous'];
    const cases = [
      [{}, [LE_GUIN, BUTLER, ANONYMOUS]],
      [{ ascending: false }, [ANONYMOUS, BUTLER, LE_GUIN]],
      [{ nullsFirst: true }, [ANONYMOUS, LE_GUIN, BUTLER]],
      [{ ascending: false, nullsFirst: false }, [BUTLER, LE_GUIN, ANONYMOUS]],
    ];
    for (const [options, expected] of cases) {
      const result = await service.from('authors').select('name').order('born', options);
      assertOk(
        result,
        200,
        expected.map((name) => ({ name })),
      );
    }
  });

  test('order on a referenced table orders only the embedded rows', async () => {
    const result = await service
      .from('authors')
      .select('name, books(year)')
      .eq('id', 1)
      .order('year', { referencedTable: 'books', ascending: false });
    assertOk(result, 200, [{ name: 'Ursula K. Le Guin', books: [{ year: 1969 }, { year: 1968 }] }]);
  });

  test('range and limit page through the rows', async () => {
    const page = await service.from('books').select('id').order('id').range(3, 10);
    assertOk(page, 200, [{ id: 4 }, { id: 5 }]);
    const first = await service
      .from('books')
      .select('id')
      .order('id', { ascending: false })
      .limit(2);
    assertOk(first, 200, [{ id: 5 }, { id: 4 }]);
  });

  test('single() answers one object; 0 rows is the server 406 PGRST116', async () => {
    const one = await service.from('books').select('title').eq('id', 3).single();
    assertOk(one, 200, { title: KINDRED });
    const none = await service.from('books').select('title').eq('id', 99).single();
    assertError(none, 406, 'PGRST116', 'Cannot coerce the result to a single JSON object');
    assert.equal(none.error.details, 'The result contains 0 rows');
    const many = await service.from('books').select('title').single();
    assertError(many, 406, 'PGRST116');
    assert.equal(many.error.details, 'The result contains 5 rows');
  });

  test('maybeSingle(): null on 0 rows, the client synthesises PGRST116 on several', async () => {
    const none = await service.from('books').select('title').eq('id', 99).maybeSingle();
    assertOk(none, 200, null);
    const one = await service.from('books').select('title').eq('id', 1).maybeSingle();
    assertOk(one, 200, { title: EARTHSEA });
    const many = await service.from('books').select('title').maybeSingle();
    assertError(many, 406, 'PGRST116');
    assert.equal(many.count, null);
  });

  test('csv() answers a header line and rows as Postgres prints records', async () => {
    // PostgREST's CSV is the record text form: a field with a space, comma or paren is quoted.
    const result = await service
      .from('books')
      .select('id,title,blurb')
      .in('id', [3, 4])
      .order('id')
      .csv();
    assertOk(
      result,
      200,
      'id,title,blurb\n3,Kindred,"A woman is pulled back in time"\n' +
        '4,"Parable of the Sower","Fires, walls (and) a journey north"',
    );
  });
});
