"""Storage: the Supabase Storage API at `/storage/v1` over a content-addressed blob store.

Bucket and object metadata are events (`storage.*`) projected to `storage_buckets` and
`storage_objects`; the bytes live in `storage_blobs`, each distinct content stored once.
"""
