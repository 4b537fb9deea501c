-- The REST API's calls per key and minute (a fixed window), counted in the database so the
-- limit holds across instances; swept by housekeeping once a window has passed. Unlogged: a
-- count is written on every call, and one lost in a crash only forgives a minute's calls.
create unlogged table api_rate (
    key_id bigint not null,
    window_start bigint not null,
    calls integer not null,
    primary key (key_id, window_start)
);

-- The first answer to a POST with an Idempotency-Key, replayed to repeats for 24 hours.
-- A row whose status is 0 is a request still running; `claim` names that request, so only
-- it records the answer or lets the key go.
create table api_idempotency (
    key_id bigint not null,
    idempotency_key text not null,
    request_hash text not null,
    claim text not null,
    status integer not null,
    body text not null,
    created_at bigint not null,
    primary key (key_id, idempotency_key)
);
create index api_idempotency_created on api_idempotency (created_at);
