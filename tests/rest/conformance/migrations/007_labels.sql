-- Strings that need quoting or escaping in filter values (in.(...), or=(...), cs.{...}).
create table public.labels (
  id integer primary key,
  label text
);
insert into public.labels (id, label) values
  (1, 'plain'),
  (2, 'a,b'),
  (3, 'c d'),
  (4, 'q"x'),
  (5, 'back\slash'),
  (6, '(paren)'),
  (7, 'x:y'),
  (8, 'null'),
  (9, ''),
  (10, null),
  (11, '1+1'),
  (12, 'ünï'),
  (13, '100%');
