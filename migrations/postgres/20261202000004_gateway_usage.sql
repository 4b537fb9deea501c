-- Every gateway check, allowed or refused, counted per organization, member, key, feature,
-- region, outcome and minute. Counts are added in batches (`server::gateway::usage`); a
-- batch's id is recorded in the same transaction, so a batch written twice counts once.
-- 0 stands for "none" in the ids (a key that identified no one), '' in the texts (no
-- feature or one not in the catalog; the organization-wide check or a region not the
-- organization's). No foreign keys: counts outlive members and keys.

create table gateway_usage (
    org_id bigint not null,
    minute bigint not null,
    user_id bigint not null,
    key_id bigint not null,
    feature text not null,
    region text not null,
    outcome text not null,
    calls bigint not null,
    primary key (org_id, minute, user_id, key_id, feature, region, outcome)
);

create table gateway_usage_batches (
    batch_id text primary key,
    written_at bigint not null
);
create index gateway_usage_batches_written_at on gateway_usage_batches (written_at);
