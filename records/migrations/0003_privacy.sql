-- Parley records, schema version 3: privacy by construction (issue 7).
-- Every table here has a retention category (config "retention") that the
-- sweeper (package retention) enforces from the timestamps kept here.

-- The customers who joined a call (pre-join data): their name as given
-- (empty when they joined anonymously, without consent). Deleted
-- retention.pre_join after the consultation's end.
CREATE TABLE customers (
	consultation_id TEXT    NOT NULL,
	participant_id  TEXT    NOT NULL,
	name            TEXT    NOT NULL,
	anonymous       INTEGER NOT NULL DEFAULT 0,
	joined_at       INTEGER NOT NULL,
	PRIMARY KEY (consultation_id, participant_id)
);

-- Answers to the company's questions: phase "before" (pre-join data,
-- deleted with the customer row) or "after" (feedback, deleted
-- retention.feedback after given_at).
CREATE TABLE answers (
	id              INTEGER PRIMARY KEY,
	consultation_id TEXT    NOT NULL,
	participant_id  TEXT    NOT NULL,
	phase           TEXT    NOT NULL CHECK (phase IN ('before', 'after')),
	question_id     TEXT    NOT NULL,
	value           TEXT    NOT NULL,
	given_at        INTEGER NOT NULL
);
CREATE INDEX answers_subject ON answers (consultation_id, participant_id);
CREATE INDEX answers_given ON answers (phase, given_at);

-- The access log: one row per HTTP request, the client address anonymised
-- (IPv4 /24, IPv6 /48) and only browser family/major version and OS kept
-- of the user agent. No path (it may carry tokens), no query, no body.
CREATE TABLE access_log (
	id          INTEGER PRIMARY KEY,
	at          INTEGER NOT NULL,
	method      TEXT    NOT NULL,
	route       TEXT    NOT NULL,
	status      INTEGER NOT NULL,
	duration_us INTEGER NOT NULL,
	bytes       INTEGER NOT NULL,
	client      TEXT    NOT NULL,
	browser     TEXT    NOT NULL,
	os          TEXT    NOT NULL
);
CREATE INDEX access_log_at ON access_log (at);

-- What each sweep deleted: counts per category, never content.
CREATE TABLE retention_runs (
	id       INTEGER PRIMARY KEY,
	at       INTEGER NOT NULL,
	category TEXT    NOT NULL,
	deleted  INTEGER NOT NULL
);
CREATE INDEX retention_runs_at ON retention_runs (at);

-- Data-subject requests (access, correction, erasure) and what was done,
-- for accountability (GDPR Art. 5(2)); kept like consent records.
CREATE TABLE subject_requests (
	id              INTEGER PRIMARY KEY,
	at              INTEGER NOT NULL,
	kind            TEXT    NOT NULL CHECK (kind IN ('export', 'correct', 'erase')),
	consultation_id TEXT    NOT NULL,
	participant_id  TEXT    NOT NULL,
	requested_by    TEXT    NOT NULL,               -- "subject" or "staff:<user id>"
	result          TEXT    NOT NULL                -- JSON: counts, never content
);
CREATE INDEX subject_requests_subject ON subject_requests (consultation_id, participant_id);

-- Restriction of processing (GDPR Art. 18): data under a legal retention
-- duty that a subject asked to erase is kept, marked, until its period ends.
ALTER TABLE documents ADD COLUMN restricted_at INTEGER;
ALTER TABLE consents ADD COLUMN restricted_at INTEGER;

-- Installation-wide secrets made once, e.g. the key of data-subject links.
CREATE TABLE settings (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
INSERT INTO settings (name, value) VALUES ('subject_link_key', randomblob(32));
