-- Invitations to join an organization, and the links that accept them.
-- A pending invitation holds a seat until it expires; "expired" is computed from expires_at.

create table invitations (
    id bigserial primary key,
    org_id bigint not null references organizations (id),
    email text not null,
    first_name text not null,
    last_name text not null,
    role text not null,
    status text not null default 'pending',
    invited_by bigint references users (id),
    created_at bigint not null,
    sent_at bigint not null,
    expires_at bigint not null,
    accepted_at bigint,
    accepted_user_id bigint references users (id),
    constraint invitations_status_check check (status in ('pending', 'accepted', 'cancelled'))
);
-- One open invitation per address and organization.
create unique index invitations_pending_key on invitations (org_id, email) where status = 'pending';
create index invitations_org_idx on invitations (org_id, status, expires_at);

-- Links that accept an invitation, stored as SHA-256. Resending replaces them all;
-- "Copy invite link" adds one beside the emailed link.
create table invitation_links (
    token_hash text primary key,
    invitation_id bigint not null references invitations (id) on delete cascade,
    created_at bigint not null
);
create index invitation_links_invitation_idx on invitation_links (invitation_id);

create index memberships_org_status_idx on memberships (org_id, status);
