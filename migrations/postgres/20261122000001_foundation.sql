-- Organizations, people, sessions, one-time tokens, the email outbox and the audit log.
-- Instants are Unix milliseconds; flags are explicit status text.

create table organizations (
    id bigserial primary key,
    name text not null,
    seat_limit bigint not null default 50,
    created_at bigint not null
);

create table users (
    id bigserial primary key,
    email text not null,
    first_name text not null,
    last_name text not null,
    mobile text,
    password_hash text not null,
    email_verified_at bigint,
    terms_version text,
    terms_accepted_at bigint,
    default_org_id bigint references organizations (id),
    created_at bigint not null,
    updated_at bigint not null,
    constraint users_email_key unique (email)
);

create table memberships (
    org_id bigint not null references organizations (id),
    user_id bigint not null references users (id),
    role text not null,
    status text not null,
    joined_at bigint not null,
    constraint memberships_pkey primary key (org_id, user_id),
    constraint memberships_status_check check (status in ('active', 'disabled', 'removed'))
);
create index memberships_user_idx on memberships (user_id);

create table sessions (
    id bigserial primary key,
    token_hash text not null,
    user_id bigint not null references users (id) on delete cascade,
    org_id bigint not null references organizations (id),
    created_at bigint not null,
    last_seen_at bigint not null,
    expires_at bigint not null,
    constraint sessions_token_hash_key unique (token_hash)
);
create index sessions_user_idx on sessions (user_id);

create table one_time_tokens (
    id bigserial primary key,
    token_hash text not null,
    kind text not null,
    user_id bigint not null references users (id) on delete cascade,
    created_at bigint not null,
    expires_at bigint not null,
    used_at bigint,
    constraint one_time_tokens_hash_key unique (token_hash)
);
create index one_time_tokens_user_idx on one_time_tokens (user_id, kind);

create table outbox (
    id bigserial primary key,
    recipient text not null,
    subject text not null,
    body_text text not null,
    body_html text not null,
    status text not null default 'pending',
    attempts bigint not null default 0,
    next_attempt_at bigint not null,
    lease_until bigint,
    last_error text,
    created_at bigint not null,
    sent_at bigint,
    constraint outbox_status_check check (status in ('pending', 'sending', 'sent', 'failed'))
);
create index outbox_due_idx on outbox (status, next_attempt_at);

create table audit_log (
    id bigserial primary key,
    org_id bigint references organizations (id),
    actor_user_id bigint references users (id),
    action text not null,
    target text,
    detail text,
    created_at bigint not null
);
create index audit_log_org_idx on audit_log (org_id, created_at);

create table sign_in_failures (
    key text primary key,
    failures bigint not null,
    window_started_at bigint not null,
    locked_until bigint
);
