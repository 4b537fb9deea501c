-- Gateway counts rolled up by hour and by day (UTC), for the Usage page and its report.
-- Times are minute numbers (minutes since the Unix epoch), as in gateway_usage: an hour's
-- or a day's first minute. Per member, not per key.
--
-- usage_rollup holds how far the roll-up has gone: every count of a minute before
-- hourly_through is in usage_hourly, and of a minute before daily_through in usage_daily too.
-- A reader takes each stretch of time from one table only (daily rows before daily_through,
-- hourly ones before hourly_through, minute rows from there), in one statement, so a figure
-- is the same before and after a roll-up. A count written late, for a minute the roll-up has
-- passed, goes straight into the rolled-up tables (server::gateway::usage).

create table usage_hourly (
    org_id bigint not null,
    hour_start bigint not null,
    user_id bigint not null,
    feature text not null,
    region text not null,
    outcome text not null,
    calls bigint not null,
    primary key (org_id, hour_start, user_id, feature, region, outcome)
);
create index usage_hourly_time on usage_hourly (hour_start);

create table usage_daily (
    org_id bigint not null,
    day_start bigint not null,
    user_id bigint not null,
    feature text not null,
    region text not null,
    outcome text not null,
    calls bigint not null,
    primary key (org_id, day_start, user_id, feature, region, outcome)
);
create index usage_daily_time on usage_daily (day_start);

-- The roll-up and the retention read minute rows by time across organizations.
create index gateway_usage_time on gateway_usage (minute);

create table usage_rollup (
    id bigint primary key,
    hourly_through bigint not null,
    daily_through bigint not null,
    constraint usage_rollup_id_check check (id = 1)
);
insert into usage_rollup (id, hourly_through, daily_through) values (1, 0, 0);
