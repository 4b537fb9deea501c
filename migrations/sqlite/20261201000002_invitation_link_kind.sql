-- Whether a link is the one emailed to the invited address (only that one proves the
-- address) or one an administrator copied to deliver themselves. Existing links count as
-- copied: accepting through them joins but verifies nothing.
alter table invitation_links add column emailed integer not null default 0;
