-- Roles and permissions: an organization's regions, its custom roles and their grants.
-- A membership or invitation names a built-in role ('owner', 'admin', 'member', 'visitor')
-- or 'custom' with role_id.

create table regions (
    org_id integer not null references organizations (id),
    code text not null,
    name text not null,
    created_at integer not null,
    constraint regions_pkey primary key (org_id, code)
);
insert into regions (org_id, code, name, created_at)
    select id, 'US', 'United States', created_at from organizations;
insert into regions (org_id, code, name, created_at)
    select id, 'EU', 'European Union', created_at from organizations;

create table roles (
    id integer primary key,
    org_id integer not null references organizations (id),
    name text not null,
    -- The name folded to lower case: role names are unique without regard to case.
    name_key text not null,
    description text not null default '',
    created_at integer not null,
    updated_at integer not null,
    constraint roles_name_key unique (org_id, name_key)
);

-- One row per role, region ('' for the organization-wide features) and feature granted.
-- level: 1 View, 2 Edit, 3 Full; download: 0 or 1.
create table role_grants (
    role_id integer not null references roles (id) on delete cascade,
    region text not null,
    feature text not null,
    level integer not null,
    download integer not null,
    constraint role_grants_pkey primary key (role_id, region, feature)
);

alter table memberships add column role_id integer references roles (id);
alter table invitations add column role_id integer references roles (id);
create index memberships_role_idx on memberships (role_id);
create index invitations_role_idx on invitations (role_id);

-- Exactly one Owner: ownership moves only by transfer, which demotes before it promotes.
create unique index memberships_one_owner on memberships (org_id) where role = 'owner';
