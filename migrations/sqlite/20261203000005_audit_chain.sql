-- The audit log's tamper evidence and origin. Each organization's rows form a hash chain:
-- row `seq` stores the SHA-256 of the previous row (`prev_hash`) and its own, computed over
-- its content and `prev_hash`. `audit_chain` holds each chain's head (written under its
-- row lock, so one organization's rows are chained one after another) and the anchor the
-- chain restarts from after retention deleted older rows. Rows without an organization
-- (a user's own events) are not chained.
alter table audit_log add column seq integer;
alter table audit_log add column prev_hash text;
alter table audit_log add column hash text;
alter table audit_log add column client_ip text;
alter table audit_log add column user_agent text;
alter table audit_log add column request_id text;
create unique index audit_log_seq_idx on audit_log (org_id, seq);
-- Keyset paging, newest first, and the actor filter.
create index audit_log_page_idx on audit_log (org_id, created_at, id);
create index audit_log_actor_idx on audit_log (org_id, actor_user_id, created_at, id);
drop index audit_log_org_idx;

create table audit_chain (
    org_id integer primary key references organizations (id),
    seq integer not null,
    hash text not null,
    anchor_seq integer not null,
    anchor_hash text not null
);
