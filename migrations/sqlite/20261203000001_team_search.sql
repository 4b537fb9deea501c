-- The Team page's search finds names and addresses from an index instead of reading every
-- row of the organization: a full-text table per kind of row, tokenised into trigrams, so a
-- search of three characters or more looks up the rows that contain it (substring, case
-- folded by FTS5's Unicode folding). Shorter searches still scan.
--
-- Only listed rows are indexed (members not removed, pending invitations), and each row's
-- rowid there is its organization's id × 2^32 + its own id, so a search reads the rowid range
-- of one organization: what other organizations hold costs it nothing.
--
-- A member's searchable text is the name it is listed under (its organization-local names,
-- or the person's) and the person's address. Members need an id that VACUUM cannot renumber
-- (their table has no integer primary key): `search_id`, handed out in increasing order.
--
-- A later rebuild of `memberships` or `users` (create, copy, drop, rename) must copy
-- `search_id` and drop and re-create the triggers below, which name both tables.

alter table memberships add column search_id integer;
update memberships set search_id = rowid;
create unique index memberships_by_search_id on memberships (search_id);

create virtual table member_search using fts5 (name, email, tokenize = 'trigram');
create virtual table invitation_search using fts5 (name, email, tokenize = 'trigram');

insert into member_search (rowid, name, email)
select m.org_id * 4294967296 + m.search_id,
       coalesce(m.first_name, u.first_name) || ' ' || coalesce(m.last_name, u.last_name), u.email
from memberships m join users u on u.id = m.user_id
where m.status <> 'removed';
insert into invitation_search (rowid, name, email)
select org_id * 4294967296 + id, first_name || ' ' || last_name, email from invitations
where status = 'pending';

create trigger memberships_search_insert after insert on memberships begin
    update memberships set search_id = (select coalesce(max(search_id), 0) + 1 from memberships)
    where org_id = new.org_id and user_id = new.user_id;
    insert into member_search (rowid, name, email)
    select m.org_id * 4294967296 + m.search_id,
           coalesce(m.first_name, u.first_name) || ' ' || coalesce(m.last_name, u.last_name),
           u.email
    from memberships m join users u on u.id = m.user_id
    where m.org_id = new.org_id and m.user_id = new.user_id and m.status <> 'removed';
end;

create trigger memberships_search_update after update of first_name, last_name, status
on memberships begin
    delete from member_search where rowid = old.org_id * 4294967296 + old.search_id;
    insert into member_search (rowid, name, email)
    select new.org_id * 4294967296 + new.search_id,
           coalesce(new.first_name, u.first_name) || ' ' || coalesce(new.last_name, u.last_name),
           u.email
    from users u where u.id = new.user_id and new.status <> 'removed';
end;

create trigger memberships_search_delete after delete on memberships begin
    delete from member_search where rowid = old.org_id * 4294967296 + old.search_id;
end;

create trigger users_search_update after update of first_name, last_name, email on users begin
    update member_search set (name, email) = (
        select coalesce(m.first_name, new.first_name) || ' ' || coalesce(m.last_name, new.last_name),
               new.email
        from memberships m where m.search_id = member_search.rowid % 4294967296)
    where rowid in (select org_id * 4294967296 + search_id from memberships where user_id = new.id);
end;

create trigger invitations_search_insert after insert on invitations when new.status = 'pending'
begin
    insert into invitation_search (rowid, name, email)
    values (new.org_id * 4294967296 + new.id, new.first_name || ' ' || new.last_name, new.email);
end;

create trigger invitations_search_update after update of first_name, last_name, email, status
on invitations begin
    delete from invitation_search where rowid = old.org_id * 4294967296 + old.id;
    insert into invitation_search (rowid, name, email)
    select new.org_id * 4294967296 + new.id, new.first_name || ' ' || new.last_name, new.email
    where new.status = 'pending';
end;

create trigger invitations_search_delete after delete on invitations begin
    delete from invitation_search where rowid = old.org_id * 4294967296 + old.id;
end;
