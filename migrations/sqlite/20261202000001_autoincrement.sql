-- From here on, ids that appear in forms and links (organizations, users, invitations, roles) are never
-- reused after a delete: SQLite's plain `integer primary key` hands a deleted highest id to
-- the next row, so a stale form or link aimed at a deleted role would reach its successor.
-- AUTOINCREMENT needs the tables rebuilt; `Store::migrate` runs this with foreign keys off on
-- its own connection and checks every key afterwards. PostgreSQL's sequences never reuse ids.

create table organizations_new (
    id integer primary key autoincrement,
    name text not null,
    seat_limit integer not null default 50,
    created_at integer not null
);
insert into organizations_new (id, name, seat_limit, created_at)
select id, name, seat_limit, created_at from organizations;
drop table organizations;
alter table organizations_new rename to organizations;

create table users_new (
    id integer primary key autoincrement,
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
insert into users_new (id, email, first_name, last_name, mobile, password_hash,
    email_verified_at, terms_version, terms_accepted_at, default_org_id, created_at, updated_at)
select id, email, first_name, last_name, mobile, password_hash,
    email_verified_at, terms_version, terms_accepted_at, default_org_id, created_at, updated_at
from users;
drop table users;
alter table users_new rename to users;

create table roles_new (
    id integer primary key autoincrement,
    org_id integer not null references organizations (id),
    name text not null,
    -- The name folded to lower case: role names are unique without regard to case.
    name_key text not null,
    description text not null default '',
    created_at integer not null,
    updated_at integer not null,
    constraint roles_name_key unique (org_id, name_key)
);
insert into roles_new (id, org_id, name, name_key, description, created_at, updated_at)
select id, org_id, name, name_key, description, created_at, updated_at from roles;
drop table roles;
alter table roles_new rename to roles;

create table invitations_new (
    id integer primary key autoincrement,
    org_id integer not null references organizations (id),
    email text not null,
    first_name text not null,
    last_name text not null,
    role text not null,
    status text not null default 'pending',
    invited_by integer references users (id),
    created_at integer not null,
    sent_at integer not null,
    expires_at integer not null,
    accepted_at integer,
    accepted_user_id integer references users (id),
    role_id integer references roles (id),
    constraint invitations_status_check check (status in ('pending', 'accepted', 'cancelled'))
);
insert into invitations_new (id, org_id, email, first_name, last_name, role, status, invited_by,
    created_at, sent_at, expires_at, accepted_at, accepted_user_id, role_id)
select id, org_id, email, first_name, last_name, role, status, invited_by,
    created_at, sent_at, expires_at, accepted_at, accepted_user_id, role_id
from invitations;
drop table invitations;
alter table invitations_new rename to invitations;
create unique index invitations_pending_key on invitations (org_id, email) where status = 'pending';
create index invitations_org_idx on invitations (org_id, status, expires_at);
create index invitations_role_idx on invitations (role_id);

-- Every key still points somewhere, or this migration fails and rolls back: the CHECK refuses
-- a row that counts broken keys.
create temp table rebuilt_keys (ok integer not null check (ok = 1));
insert into rebuilt_keys select count(*) = 0 from pragma_foreign_key_check;
drop table rebuilt_keys;
