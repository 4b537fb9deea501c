-- Counts the committed changes to each organization's team: live updates carry it, so an
-- open page that already shows a version does not read the team again.
alter table organizations add column team_version integer not null default 0;
