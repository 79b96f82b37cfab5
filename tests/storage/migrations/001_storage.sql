-- Buckets and policies declared the way Supabase projects do it.
insert into storage.buckets (id, name, public) values ('avatars', 'avatars', false);
insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('images', 'images', true, 2000, array['image/*', 'text/plain']);

create policy "own folder: read" on storage.objects for select to authenticated
  using (bucket_id = 'avatars' and auth.uid()::text = (storage.foldername(name))[1]);
create policy "own folder: upload" on storage.objects for insert to authenticated
  with check (bucket_id = 'avatars' and auth.uid()::text = (storage.foldername(name))[1]);
create policy "own folder: update" on storage.objects for update to authenticated
  using (bucket_id = 'avatars' and auth.uid()::text = (storage.foldername(name))[1])
  with check (bucket_id = 'avatars' and auth.uid()::text = (storage.foldername(name))[1]);
create policy "own folder: delete" on storage.objects for delete to authenticated
  using (bucket_id = 'avatars' and auth.uid()::text = (storage.foldername(name))[1]);
create policy "pngs for all" on storage.objects for select
  using (bucket_id = 'avatars' and storage.extension(name) = 'png'
         and storage.filename(name) like 'public-%');
create policy "buckets visible" on storage.buckets for select to authenticated using (true);
