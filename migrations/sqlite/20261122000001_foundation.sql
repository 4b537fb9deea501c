-- Organizations, people, sessions, one-time tokens, the email outbox and the audit log.
-- Instants are Unix milliseconds; flags are explicit status text.

create table organizations (
    id integer primary key,
    name text not null,
    seat_limit integer not null default 50,
    created_at integer not null
);

create table users (
    id integer primary key,
    email text not null,
    first_name text not null,
    last_name text not null,
    mobile text,
    password_hash text not null,
    email_verified_at integer,
    terms_version text,
    terms_accepted_at integer,
    default_org_id integer references organizations (id),
    created_at integer not null,
    updated_at integer not null,
    constraint users_email_key unique (email)
);

create table memberships (
    org_id integer not null references organizations (id),
    user_id integer not null references users (id),
    role text not null,
    status text not null,
    joined_at integer not null,
    constraint memberships_pkey primary key (org_id, user_id),
    constraint memberships_status_check check (status in ('active', 'disabled', 'removed'))
);
create index memberships_user_idx on memberships (user_id);

create table sessions (
    id integer primary key,
    token_hash text not null,
    user_id integer not null references users (id) on delete cascade,
    org_id integer not null references organizations (id),
    created_at integer not null,
    last_seen_at integer not null,
    expires_at integer not null,
    constraint sessions_token_hash_key unique (token_hash)
);
create index sessions_user_idx on sessions (user_id);

create table one_time_tokens (
    id integer primary key,
    token_hash text not null,
    kind text not null,
    user_id integer not null references users (id) on delete cascade,
    created_at integer not null,
    expires_at integer not null,
    used_at integer,
    constraint one_time_tokens_hash_key unique (token_hash)
);
create index one_time_tokens_user_idx on one_time_tokens (user_id, kind);

create table outbox (
    id integer primary key,
    recipient text not null,
    subject text not null,
    body_text text not null,
    body_html text not null,
    status text not null default 'pending',
    attempts integer not null default 0,
    next_attempt_at integer not null,
    lease_until integer,
    last_error text,
    created_at integer not null,
    sent_at integer,
    constraint outbox_status_check check (status in ('pending', 'sending', 'sent', 'failed'))
);
create index outbox_due_idx on outbox (status, next_attempt_at);

create table audit_log (
    id integer primary key,
    org_id integer references organizations (id),
    actor_user_id integer references users (id),
    action text not null,
    target text,
    detail text,
    created_at integer not null
);
create index audit_log_org_idx on audit_log (org_id, created_at);

create table sign_in_failures (
    key text primary key,
    failures integer not null,
    window_started_at integer not null,
    locked_until integer
);
