-- PostgreSQL for medsys: run as the postgres superuser, e.g.
--   sudo -u postgres psql -v password="'<a long random password>'" -f postgresql-setup.sql
CREATE ROLE medsys LOGIN PASSWORD :password;
CREATE DATABASE medsys OWNER medsys ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE medsys FROM PUBLIC;
\connect medsys
-- PostgreSQL 15 no longer lets every role create in public; the owner does.
ALTER SCHEMA public OWNER TO medsys;
