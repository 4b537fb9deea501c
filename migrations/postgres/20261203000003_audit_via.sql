-- How a change was made: null for the web app, 'api' for the REST API (a member's API key).
alter table audit_log add column via text;
