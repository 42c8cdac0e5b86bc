-- Parley records, schema version 1.
-- Times are Unix milliseconds (UTC). Secrets (passwords, tokens) are never
-- stored: passwords as argon2id hashes, tokens as SHA-256 digests.

CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	username      TEXT    NOT NULL UNIQUE,
	display_name  TEXT    NOT NULL,
	role          TEXT    NOT NULL CHECK (role IN ('admin', 'advisor', 'backoffice')),
	password_hash TEXT    NOT NULL,
	available     INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL
);

-- Staff logins: one row per login cookie, keyed by the cookie's SHA-256.
CREATE TABLE logins (
	token_hash BLOB    PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	ttl_ms     INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX logins_user ON logins (user_id);
CREATE INDEX logins_expires ON logins (expires_at);

-- Consultations. invite_hash is the SHA-256 of the current customer invite
-- token; a new invite replaces it, ending a consultation clears it.
CREATE TABLE consultations (
	id                TEXT    PRIMARY KEY,
	title             TEXT    NOT NULL,
	advisor_id        INTEGER NOT NULL REFERENCES users (id),
	state             TEXT    NOT NULL CHECK (state IN ('open', 'ended')),
	created_at        INTEGER NOT NULL,
	ended_at          INTEGER,
	invite_hash       BLOB    UNIQUE,
	invite_expires_at INTEGER
);
CREATE INDEX consultations_advisor ON consultations (advisor_id, created_at);

-- Links that let another advisor join a consultation; bound to the first
-- user who accepts it.
CREATE TABLE colleague_invites (
	token_hash      BLOB    PRIMARY KEY,
	consultation_id TEXT    NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
	expires_at      INTEGER NOT NULL,
	accepted_by     INTEGER REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX colleague_invites_consultation ON colleague_invites (consultation_id);

-- Advisors who accepted a colleague invite.
CREATE TABLE consultation_staff (
	consultation_id TEXT    NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
	user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	added_at        INTEGER NOT NULL,
	PRIMARY KEY (consultation_id, user_id)
);
CREATE INDEX consultation_staff_user ON consultation_staff (user_id);

-- Proof of consent (GDPR Art. 7(1)): which text, in which language, when,
-- for which consultation and participant. Deliberately no IP address and no
-- name. No foreign key: consent records outlive consultation data.
CREATE TABLE consents (
	id              INTEGER PRIMARY KEY,
	consultation_id TEXT    NOT NULL,
	participant_id  TEXT    NOT NULL,
	text_version    TEXT    NOT NULL,
	lang            TEXT    NOT NULL,
	given_at        INTEGER NOT NULL
);
CREATE INDEX consents_consultation ON consents (consultation_id);
