-- Streams are guarded by policies on realtime.messages, as private channels and Yjs documents:
-- each signed-in user reads and appends to its own actor stream, actor:<user id>.
create policy "own actor read" on realtime.messages for select to authenticated
  using (extension = 'stream' and realtime.topic() = 'actor:' || auth.uid()::text);
create policy "own actor write" on realtime.messages for insert to authenticated
  with check (extension = 'stream' and realtime.topic() = 'actor:' || auth.uid()::text);
-- Anyone signed in reads the shared board, nobody but service_role appends to it.
create policy "read board" on realtime.messages for select to authenticated
  using (extension = 'stream' and realtime.topic() = 'app:board');
-- Rooms room-* (broadcast history) and documents doc-* (Yjs) for signed-in users.
create policy "read rooms" on realtime.messages for select to authenticated
  using (extension = 'broadcast' and realtime.topic() like 'room-%');
create policy "read docs" on realtime.messages for select to authenticated
  using (extension = 'yjs' and realtime.topic() like 'doc-%');
create policy "write docs" on realtime.messages for insert to authenticated
  with check (extension = 'yjs' and realtime.topic() like 'doc-%');
