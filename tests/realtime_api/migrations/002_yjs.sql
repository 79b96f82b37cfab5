-- Yjs documents: signed-in users read doc-* and ro-* documents and write only doc-* ones.
create policy "read docs" on realtime.messages for select to authenticated
  using (extension = 'yjs' and (realtime.topic() like 'doc-%' or realtime.topic() like 'ro-%'));
create policy "write docs" on realtime.messages for insert to authenticated
  with check (extension = 'yjs' and realtime.topic() like 'doc-%');
