-- Verified domains and auto-join. A domain is added with a random challenge token, verified
-- when a DNS TXT record `_roster-challenge.<domain>` holds it, re-checked daily, and lapsed
-- after three failed checks in a row. One organization at a time holds a domain verified.
create table org_domains (
    id integer primary key,
    org_id integer not null references organizations (id),
    -- Lower-case ASCII (IDN names as punycode), without a trailing dot.
    domain text not null,
    token text not null,
    status text not null,
    created_at integer not null,
    verified_at integer,
    last_checked_at integer,
    failed_checks integer not null default 0,
    constraint org_domains_status_check check (status in ('pending', 'verified', 'lapsed'))
);
create unique index org_domains_org_domain_idx on org_domains (org_id, domain);
create unique index org_domains_verified_idx on org_domains (domain) where status = 'verified';

-- Auto-join: off, suggest (the person is offered "Join <org>"), or automatic; the role given
-- (never admin or owner); when the admins were last told the seats were full (at most daily).
alter table organizations add column auto_join text not null default 'off';
alter table organizations add column auto_join_role text not null default 'member';
alter table organizations add column seats_full_mailed_at integer;
