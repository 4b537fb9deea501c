-- The claim that holds a row while it is sending: a fresh random token per claim, so only the
-- worker that still holds the lease records the outcome.
alter table outbox add column lease_token text;
