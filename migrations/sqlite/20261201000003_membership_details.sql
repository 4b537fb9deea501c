-- How an organization shows one of its members: a display name and mobile number of its
-- own, set by its administrators with "Edit". Null means the person's own (from Profile),
-- so an edit in one organization never changes how the person appears in another.
alter table memberships add column first_name text;
alter table memberships add column last_name text;
alter table memberships add column mobile text;
