-- The first answer to a POST with an Idempotency-Key, replayed to repeats for 24 hours.
-- A row whose status is 0 is a request still running; `claim` names that request, so only
-- it records the answer or lets the key go.
create table api_idempotency (
    key_id integer not null,
    idempotency_key text not null,
    request_hash text not null,
    claim text not null,
    status integer not null,
    body text not null,
    created_at integer not null,
    primary key (key_id, idempotency_key)
);
create index api_idempotency_created on api_idempotency (created_at);
