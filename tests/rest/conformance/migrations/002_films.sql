-- Many-to-many: films <-> actors through roles.
create table public.films (
  id bigint primary key,
  title text not null,
  released smallint,
  tags text[] not null default '{}',
  info jsonb
);
create table public.actors (
  id bigint primary key,
  name text not null
);
create table public.roles (
  film_id bigint not null references public.films(id),
  actor_id bigint not null references public.actors(id),
  character text not null,
  primary key (film_id, actor_id)
);

insert into public.films (id, title, released, tags, info) values
  (1, 'Alien', 1979, '{scifi,horror}', '{"director": "Scott", "budget": 11, "awards": ["oscar"]}'),
  (2, 'Aliens', 1986, '{scifi,action}', '{"director": "Cameron", "budget": 18}'),
  (3, 'Heat', 1995, '{crime}', '{"director": "Mann"}'),
  (4, 'Untitled', null, '{}', null);
insert into public.actors (id, name) values
  (1, 'Sigourney Weaver'),
  (2, 'Al Pacino'),
  (3, 'Robert De Niro'),
  (4, 'Bill Paxton');
insert into public.roles (film_id, actor_id, character) values
  (1, 1, 'Ripley'),
  (2, 1, 'Ripley'),
  (2, 4, 'Hudson'),
  (3, 2, 'Hanna'),
  (3, 3, 'McCauley');
