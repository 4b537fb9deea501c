-- The Team page's search finds names and addresses from trigram indexes (pg_trgm) instead
-- of reading every row of the organization: `%text%` of three characters or more is looked up
-- in a GIN index. A member's searchable name is stored, lower-cased, in `search_name` (the
-- name it is listed under: its organization-local names, or the person's), kept by the same
-- triggers as the sort keys; its address is `sort_email`.
--
-- pg_trgm ships with PostgreSQL and is a trusted extension (13+): a database owner may create
-- it. Where it cannot be created (or its operator class is not on the search path) the
-- indexes are left out and the search reads every row, as before; nothing else depends on
-- them. They are made by this migration only: an operator who adds pg_trgm later creates them
-- with the statements below.

alter table memberships add column search_name text not null default '';

create or replace function memberships_sort_keys() returns trigger language plpgsql as $$
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
    new.search_name := lower(coalesce(new.first_name, u.first_name) || ' '
                             || coalesce(new.last_name, u.last_name));
    return new;
end $$;

create or replace function users_sort_keys() returns trigger language plpgsql as $$
begin
    update memberships set
        sort_first = lower(case when coalesce(first_name, new.first_name) = '' then new.email
                                else coalesce(first_name, new.first_name) end),
        sort_last = lower(coalesce(last_name, new.last_name)),
        sort_email = new.email,
        search_name = lower(coalesce(first_name, new.first_name) || ' '
                            || coalesce(last_name, new.last_name))
    where user_id = new.id;
    return null;
end $$;

-- The rows already stored (the update fires the row trigger above).
update memberships set status = status;

do $$
begin
    create extension if not exists pg_trgm;
exception when others then
    raise notice 'pg_trgm is not available (%): the Team search reads every row', sqlerrm;
end $$;

do $$
begin
    if exists (select 1 from pg_extension where extname = 'pg_trgm') then
        create index memberships_search_name on memberships using gin (search_name gin_trgm_ops)
            where status <> 'removed';
        create index memberships_search_email on memberships using gin (sort_email gin_trgm_ops)
            where status <> 'removed';
        create index invitations_search_name on invitations
            using gin (lower(first_name || ' ' || last_name) gin_trgm_ops) where status = 'pending';
        create index invitations_search_email on invitations using gin (email gin_trgm_ops)
            where status = 'pending';
    end if;
exception when others then
    -- For example pg_trgm installed in a schema that is not on the search path.
    raise notice 'the Team search indexes were not made (%): the search reads every row', sqlerrm;
end $$;
