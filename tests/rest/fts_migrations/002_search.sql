-- Added to a table that already has rows: the index covers them.
alter table public.posts add column fts tsvector generated always as
  (to_tsvector('english', coalesce(title, '') || ' ' || coalesce(body, ''))) stored;
create index posts_fts on public.posts using gin (fts);
create index on public.posts using gin (to_tsvector('english', body));
