-- A self-reference (employees.manager_id) and two FKs to the same table (messages -> people).
create table public.employees (
  id bigint primary key,
  name text not null,
  manager_id bigint references public.employees(id)
);
create table public.people (
  id bigint primary key,
  name text not null
);
create table public.messages (
  id bigint primary key,
  body text not null,
  sender_id bigint not null,
  receiver_id bigint not null,
  constraint messages_sender_fkey foreign key (sender_id) references public.people(id),
  constraint messages_receiver_fkey foreign key (receiver_id) references public.people(id)
);

insert into public.employees (id, name, manager_id) values
  (1, 'Ada', null),
  (2, 'Brian', 1),
  (3, 'Cleo', 1),
  (4, 'Dan', 2);
insert into public.people (id, name) values (1, 'Ann'), (2, 'Bo'), (3, 'Cy');
insert into public.messages (id, body, sender_id, receiver_id) values
  (1, 'hi Bo', 1, 2),
  (2, 'hi Ann', 2, 1),
  (3, 'hey Cy', 1, 3);
