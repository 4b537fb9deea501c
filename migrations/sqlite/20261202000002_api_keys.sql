-- API keys: one current key per membership (expires_at is null); a refreshed-away key keeps
-- working until its expires_at. The key itself is stored only as an HMAC-SHA-256 (for lookup)
-- and sealed with AES-256-GCM (for "Copy API Key"), both under the server secret; prefix holds
-- its first characters for display.

create table api_keys (
    id integer primary key autoincrement,
    org_id integer not null references organizations (id),
    user_id integer not null references users (id) on delete cascade,
    lookup_hash text not null,
    prefix text not null,
    sealed text not null,
    created_at integer not null,
    expires_at integer,
    last_used_at integer,
    replaced_by integer references api_keys (id),
    constraint api_keys_lookup_hash_key unique (lookup_hash)
);
-- Exactly one current key per member and organization, whatever runs concurrently.
create unique index api_keys_one_current on api_keys (org_id, user_id) where expires_at is null;
