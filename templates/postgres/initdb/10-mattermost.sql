-- Run once, when the postgres container initialises an empty data volume
-- (the official image runs /docker-entrypoint-initdb.d/*.sql as its
-- superuser over the socket). Mattermost's role owns its database and
-- nothing else: not a superuser, no password (pg_hba.conf trusts it on the
-- socket only), so it may create its tables in the database's public schema
-- (PostgreSQL 15+: the database owner's) and nothing beyond.
CREATE ROLE mmuser LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
CREATE DATABASE mattermost OWNER mmuser;
