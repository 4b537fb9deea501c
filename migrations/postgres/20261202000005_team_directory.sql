-- The Team page reads one page of members and invitations from indexes, whatever the size of
-- the organization. Each sortable column has a stored sort key, kept by the triggers below in
-- the same transaction as every change that moves it (a member's names or role, a person's
-- Profile, a role's name), and an index per column; the count of members is stored on the
-- organization. An invitation's "expired" depends on the time, so its status is sorted
-- when read (pending invitations are few beside members).
--
-- Keys: name = (first name, or the address when there is none; last name), lower-cased;
-- role = (built-in rank: owner 0, admin 1, member 2, visitor 3, custom 4; custom role name);
-- status = active 0, disabled 2 (pending is 1 and expired 3, for invitations).
-- The keys compare byte by byte ("C"), as they are already folded to lower case.

alter table memberships add column sort_first text collate "C" not null default '';
alter table memberships add column sort_last text collate "C" not null default '';
alter table memberships add column sort_email text collate "C" not null default '';
alter table memberships add column sort_role bigint not null default 0;
alter table memberships add column sort_role_name text collate "C" not null default '';
alter table memberships add column sort_status bigint not null default 0;
alter table invitations add column sort_first text collate "C" not null default '';
alter table invitations add column sort_last text collate "C" not null default '';
alter table invitations add column sort_role bigint not null default 0;
alter table invitations add column sort_role_name text collate "C" not null default '';
alter table organizations add column members_count bigint not null default 0;

create function role_rank(role text) returns bigint language sql immutable as $$
    select case role when 'owner' then 0 when 'admin' then 1 when 'member' then 2
                     when 'visitor' then 3 else 4 end::bigint
$$;

create function memberships_sort_keys() returns trigger language plpgsql as $$
declare
    u record;
begin
    select first_name, last_name, email into u from users where id = new.user_id;
    new.sort_first := lower(case when coalesce(new.first_name, u.first_name) = '' then u.email
                                 else coalesce(new.first_name, u.first_name) end);
    new.sort_last := lower(coalesce(new.last_name, u.last_name));
    new.sort_email := u.email;
    new.sort_role := role_rank(new.role);
    new.sort_role_name := coalesce((select r.name from roles r where r.id = new.role_id), '');
    new.sort_status := case new.status when 'active' then 0 else 2 end;
    return new;
end $$;

create trigger memberships_sort_keys before insert or update of first_name, last_name, role, role_id, status
on memberships for each row execute function memberships_sort_keys();

create function memberships_count() returns trigger language plpgsql as $$
declare
    delta bigint := 0;
    org bigint;
begin
    if tg_op in ('UPDATE', 'DELETE') and old.status <> 'removed' then
        delta := delta - 1;
    end if;
    if tg_op in ('UPDATE', 'INSERT') and new.status <> 'removed' then
        delta := delta + 1;
    end if;
    org := case when tg_op = 'DELETE' then old.org_id else new.org_id end;
    if delta <> 0 then
        update organizations set members_count = members_count + delta where id = org;
    end if;
    return null;
end $$;

create trigger memberships_count after insert or update of status or delete
on memberships for each row execute function memberships_count();

create function users_sort_keys() returns trigger language plpgsql as $$
begin
    update memberships set
        sort_first = lower(case when coalesce(first_name, new.first_name) = '' then new.email
                                else coalesce(first_name, new.first_name) end),
        sort_last = lower(coalesce(last_name, new.last_name)),
        sort_email = new.email
    where user_id = new.id;
    return null;
end $$;

create trigger users_sort_keys after update of first_name, last_name, email
on users for each row execute function users_sort_keys();

create function invitations_sort_keys() returns trigger language plpgsql as $$
begin
    new.sort_first := lower(case when new.first_name = '' then new.email else new.first_name end);
    new.sort_last := lower(new.last_name);
    new.sort_role := role_rank(new.role);
    new.sort_role_name := coalesce((select r.name from roles r where r.id = new.role_id), '');
    return new;
end $$;

create trigger invitations_sort_keys before insert or update of first_name, last_name, email, role, role_id
on invitations for each row execute function invitations_sort_keys();

create function roles_sort_keys() returns trigger language plpgsql as $$
begin
    update memberships set sort_role_name = new.name where role_id = new.id;
    update invitations set sort_role_name = new.name where role_id = new.id;
    return null;
end $$;

create trigger roles_sort_keys after update of name
on roles for each row execute function roles_sort_keys();

-- The rows already stored (each update fires the row triggers above).
update memberships set status = status;
update invitations set role = role;
update organizations set members_count =
    (select count(*) from memberships m where m.org_id = organizations.id and m.status <> 'removed');

create index memberships_by_name on memberships (org_id, sort_first, sort_last, user_id)
    where status <> 'removed';
create index memberships_by_email on memberships (org_id, sort_email, user_id)
    where status <> 'removed';
create index memberships_by_role on memberships (org_id, sort_role, sort_role_name, user_id)
    where status <> 'removed';
create index memberships_by_status on memberships (org_id, sort_status, user_id)
    where status <> 'removed';
create index memberships_by_date on memberships (org_id, joined_at, user_id)
    where status <> 'removed';
create index invitations_by_name on invitations (org_id, sort_first, sort_last, id)
    where status = 'pending';
create index invitations_by_email on invitations (org_id, email, id) where status = 'pending';
create index invitations_by_role on invitations (org_id, sort_role, sort_role_name, id)
    where status = 'pending';
create index invitations_by_date on invitations (org_id, sent_at, id) where status = 'pending';
-- A member's keys, for the Team page's row (the current one and the newest it replaced).
create index api_keys_by_member on api_keys (org_id, user_id, id);
