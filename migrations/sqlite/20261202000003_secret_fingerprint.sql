-- A fingerprint of the server secret (a keyed hash of a fixed text, never the secret): the
-- first start records it and every later start, on any instance, must hold the same secret,
-- so two instances can never issue keys under different secrets.
create table server_secret (
    id integer primary key,
    fingerprint text not null
);
