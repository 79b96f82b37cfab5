-- RPC targets: set-returning, table-returning, scalar, void, no-argument.
create function public.cities_of(code text) returns setof public.cities language sql stable as $$
  select c.* from public.cities c join public.countries k on k.id = c.country_id
  where k.iso2 = code order by c.id
$$;
create function public.add(a integer, b integer) returns integer language sql immutable as $$
  select a + b
$$;
create function public.country_count() returns bigint language sql stable as $$
  select count(*) from public.countries
$$;
create function public.film_titles() returns table (title text, released smallint)
language sql stable as $$
  select title, released from public.films order by id
$$;
create function public.rename_actor(actor bigint, new_name text) returns void language sql as $$
  update public.actors set name = new_name where id = actor
$$;
create function public.tagged(wanted text[]) returns setof public.films language sql stable as $$
  select * from public.films where title = any(wanted) order by id
$$;
