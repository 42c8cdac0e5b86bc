-- Parley records (PostgreSQL), schema version 5 (the same schema as
-- 0005_subject_links_staff.sql for SQLite; a test compares them): a customer who leaves and joins the
-- same consultation again stays one data subject (subject_links), and
-- staff accounts that must change their password or are disabled.

-- A later participation of a data subject: participant_id joined
-- consultation_id again with the personal link of subject_id (its first
-- participation), proven by that link's token. Only random ids, no
-- personal data; deleted with the consultation's consent records.
CREATE TABLE subject_links (
	consultation_id TEXT    NOT NULL,
	participant_id  TEXT    NOT NULL,
	subject_id      TEXT    NOT NULL,
	linked_at       BIGINT  NOT NULL,
	PRIMARY KEY (consultation_id, participant_id)
);
CREATE INDEX subject_links_subject ON subject_links (consultation_id, subject_id);

-- 1: the password was set by someone else (the first admin's, an admin's
-- reset) and must be changed at the next login.
ALTER TABLE users ADD COLUMN must_change_password BIGINT NOT NULL DEFAULT 0;
-- When an admin disabled the account (NULL: active). Disabled accounts
-- cannot log in and their logins end.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
