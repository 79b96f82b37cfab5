-- One column per supported type, for the value formats of §1.3.
create table public.samples (
  id integer primary key,
  uid uuid,
  label text,
  code varchar(8),
  small smallint,
  whole integer,
  big bigint,
  exact numeric,
  single real,
  dbl double precision,
  flag boolean,
  day date,
  at timestamp,
  at_tz timestamptz,
  doc json,
  docb jsonb,
  raw bytea,
  words text[],
  nums int[]
);

insert into public.samples values
  (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'first', 'AB12', -32768, 2147483647,
   9007199254740993, 12345.678, 1.5, 2.25, true, '2024-01-31', '2024-01-01 12:00:00',
   '2024-01-01 12:00:00+02', '{"b": 1, "a": [1, 2]}', '{"b": 1, "a": [1, 2]}', '\x0001ff',
   '{"a b",c,"d,e"}', '{1,2,3}'),
  (2, null, null, null, null, null, null, null, null, null, false, null, null, null, null, null,
   null, '{}', '{}');
