-- The Team page's search finds names and addresses from an index instead of reading every
-- row of the organization: a full-text table per kind of row, tokenised into trigrams, so a
-- search of three characters or more looks up the rows that contain it (substring, case
-- folded as Unicode does, like the scan it replaces). Shorter searches still scan.
--
-- A member's searchable text is the name it is listed under (its organization-local names,
-- or the person's) and the person's address. Members need an id that VACUUM cannot renumber
-- (their table has no integer primary key): `search_id`, handed out in increasing order.

alter table memberships add column search_id integer;
update memberships set search_id = rowid;
create unique index memberships_by_search_id on memberships (search_id);

create virtual table member_search using fts5 (name, email, tokenize = 'trigram');
create virtual table invitation_search using fts5 (name, email, tokenize = 'trigram');

insert into member_search (rowid, name, email)
select m.search_id, coalesce(m.first_name, u.first_name) || ' ' || coalesce(m.last_name, u.last_name),
       u.email
from memberships m join users u on u.id = m.user_id;
insert into invitation_search (rowid, name, email)
select id, first_name || ' ' || last_name, email from invitations;

create trigger memberships_search_insert after insert on memberships begin
    update memberships set search_id = (select coalesce(max(search_id), 0) + 1 from memberships)
    where org_id = new.org_id and user_id = new.user_id;
    insert into member_search (rowid, name, email)
    select m.search_id, coalesce(m.first_name, u.first_name) || ' ' || coalesce(m.last_name, u.last_name),
           u.email
    from memberships m join users u on u.id = m.user_id
    where m.org_id = new.org_id and m.user_id = new.user_id;
end;

create trigger memberships_search_update after update of first_name, last_name on memberships begin
    update member_search set name = (
        select coalesce(new.first_name, u.first_name) || ' ' || coalesce(new.last_name, u.last_name)
        from users u where u.id = new.user_id)
    where rowid = new.search_id;
end;

create trigger memberships_search_delete after delete on memberships begin
    delete from member_search where rowid = old.search_id;
end;

create trigger users_search_update after update of first_name, last_name, email on users begin
    update member_search set (name, email) = (
        select coalesce(m.first_name, new.first_name) || ' ' || coalesce(m.last_name, new.last_name),
               new.email
        from memberships m where m.search_id = member_search.rowid)
    where rowid in (select search_id from memberships where user_id = new.id);
end;

create trigger invitations_search_insert after insert on invitations begin
    insert into invitation_search (rowid, name, email)
    values (new.id, new.first_name || ' ' || new.last_name, new.email);
end;

create trigger invitations_search_update after update of first_name, last_name, email on invitations
begin
    update invitation_search set name = new.first_name || ' ' || new.last_name, email = new.email
    where rowid = new.id;
end;

create trigger invitations_search_delete after delete on invitations begin
    delete from invitation_search where rowid = old.id;
end;
