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

alter table memberships add column sort_first text not null default '';
alter table memberships add column sort_last text not null default '';
alter table memberships add column sort_email text not null default '';
alter table memberships add column sort_role integer not null default 0;
alter table memberships add column sort_role_name text not null default '';
alter table memberships add column sort_status integer not null default 0;
alter table invitations add column sort_first text not null default '';
alter table invitations add column sort_last text not null default '';
alter table invitations add column sort_role integer not null default 0;
alter table invitations add column sort_role_name text not null default '';
alter table organizations add column members_count integer not null default 0;

create trigger memberships_sort_insert after insert on memberships begin
    update memberships set (sort_first, sort_last, sort_email, sort_role, sort_role_name, sort_status) = (
        select lower(case when coalesce(new.first_name, u.first_name) = '' then u.email
                          else coalesce(new.first_name, u.first_name) end),
               lower(coalesce(new.last_name, u.last_name)), u.email,
               case new.role when 'owner' then 0 when 'admin' then 1 when 'member' then 2
                             when 'visitor' then 3 else 4 end,
               coalesce((select r.name from roles r where r.id = new.role_id), ''),
               case new.status when 'active' then 0 else 2 end
        from users u where u.id = new.user_id)
    where org_id = new.org_id and user_id = new.user_id;
    update organizations set members_count = members_count + 1
    where id = new.org_id and new.status <> 'removed';
end;

create trigger memberships_sort_update after update of first_name, last_name, role, role_id, status
on memberships begin
    update memberships set (sort_first, sort_last, sort_email, sort_role, sort_role_name, sort_status) = (
        select lower(case when coalesce(new.first_name, u.first_name) = '' then u.email
                          else coalesce(new.first_name, u.first_name) end),
               lower(coalesce(new.last_name, u.last_name)), u.email,
               case new.role when 'owner' then 0 when 'admin' then 1 when 'member' then 2
                             when 'visitor' then 3 else 4 end,
               coalesce((select r.name from roles r where r.id = new.role_id), ''),
               case new.status when 'active' then 0 else 2 end
        from users u where u.id = new.user_id)
    where org_id = new.org_id and user_id = new.user_id;
    update organizations
    set members_count = members_count + (new.status <> 'removed') - (old.status <> 'removed')
    where id = new.org_id and (new.status <> 'removed') <> (old.status <> 'removed');
end;

create trigger memberships_count_delete after delete on memberships begin
    update organizations set members_count = members_count - 1
    where id = old.org_id and old.status <> 'removed';
end;

create trigger users_sort_update after update of first_name, last_name, email on users begin
    update memberships set
        sort_first = lower(case when coalesce(first_name, new.first_name) = '' then new.email
                                else coalesce(first_name, new.first_name) end),
        sort_last = lower(coalesce(last_name, new.last_name)),
        sort_email = new.email
    where user_id = new.id;
end;

create trigger invitations_sort_insert after insert on invitations begin
    update invitations set
        sort_first = lower(case when new.first_name = '' then new.email else new.first_name end),
        sort_last = lower(new.last_name),
        sort_role = case new.role when 'owner' then 0 when 'admin' then 1 when 'member' then 2
                                  when 'visitor' then 3 else 4 end,
        sort_role_name = coalesce((select r.name from roles r where r.id = new.role_id), '')
    where id = new.id;
end;

create trigger invitations_sort_update after update of first_name, last_name, email, role, role_id
on invitations begin
    update invitations set
        sort_first = lower(case when new.first_name = '' then new.email else new.first_name end),
        sort_last = lower(new.last_name),
        sort_role = case new.role when 'owner' then 0 when 'admin' then 1 when 'member' then 2
                                  when 'visitor' then 3 else 4 end,
        sort_role_name = coalesce((select r.name from roles r where r.id = new.role_id), '')
    where id = new.id;
end;

create trigger roles_sort_update after update of name on roles begin
    update memberships set sort_role_name = new.name where role_id = new.id;
    update invitations set sort_role_name = new.name where role_id = new.id;
end;

-- The rows already stored.
update memberships set (sort_first, sort_last, sort_email, sort_role, sort_role_name, sort_status) = (
    select lower(case when coalesce(memberships.first_name, u.first_name) = '' then u.email
                      else coalesce(memberships.first_name, u.first_name) end),
           lower(coalesce(memberships.last_name, u.last_name)), u.email,
           case memberships.role when 'owner' then 0 when 'admin' then 1 when 'member' then 2
                                 when 'visitor' then 3 else 4 end,
           coalesce((select r.name from roles r where r.id = memberships.role_id), ''),
           case memberships.status when 'active' then 0 else 2 end
    from users u where u.id = memberships.user_id);
update invitations set
    sort_first = lower(case when first_name = '' then email else first_name end),
    sort_last = lower(last_name),
    sort_role = case role when 'owner' then 0 when 'admin' then 1 when 'member' then 2
                          when 'visitor' then 3 else 4 end,
    sort_role_name = coalesce((select r.name from roles r where r.id = invitations.role_id), '');
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
