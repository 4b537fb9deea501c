-- Every invitation email sent, for the sending quotas: per address across organizations per
-- day, per organization per hour. Rows older than a day are deleted by housekeeping.
create table invitation_emails (
    id integer primary key autoincrement,
    org_id integer not null references organizations (id) on delete cascade,
    email text not null,
    sent_at integer not null
);
create index invitation_emails_email_idx on invitation_emails (email, sent_at);
create index invitation_emails_org_idx on invitation_emails (org_id, sent_at);
