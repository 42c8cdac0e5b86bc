-- Parley records, schema version 6: the outbox (messages to other systems
-- that must survive a restart: e-mail now, webhooks later) and
-- appointments (consultations booked for a time slot).

-- One message to deliver. kind names the handler (e.g. "mail");
-- idem_key is unique and travels with the message (the Message-ID of an
-- e-mail), so a receiver that sees it twice knows. payload is sealed with
-- the storage key (storage.key, like files) and emptied once the row is
-- delivered or given up; last_error never holds content. A worker claims a
-- due row by setting claimed_until (a lease), so one row is delivered by
-- one node at a time. Delivered and failed rows are deleted
-- outbox.keep_done after done_at.
CREATE TABLE outbox (
	id              INTEGER PRIMARY KEY,
	kind            TEXT    NOT NULL,
	idem_key        TEXT    NOT NULL UNIQUE,
	payload         BLOB    NOT NULL,
	state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	claimed_until   INTEGER,
	last_error      TEXT    NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL,
	done_at         INTEGER
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

-- A consultation booked for a slot. The customer's name, e-mail address
-- and phone are personal data: deleted with the consultation's record
-- (retention), never logged. sequence is the iCalendar SEQUENCE, raised
-- by every reschedule and the cancellation.
CREATE TABLE appointments (
	id              TEXT    PRIMARY KEY,
	consultation_id TEXT    NOT NULL UNIQUE REFERENCES consultations (id) ON DELETE CASCADE,
	advisor_id      INTEGER NOT NULL REFERENCES users (id),
	starts_at       INTEGER NOT NULL,
	ends_at         INTEGER NOT NULL,
	customer_name   TEXT    NOT NULL,
	customer_email  TEXT    NOT NULL,
	customer_phone  TEXT    NOT NULL DEFAULT '',
	lang            TEXT    NOT NULL CHECK (lang IN ('de', 'en')),
	sequence        INTEGER NOT NULL DEFAULT 0,
	state           TEXT    NOT NULL DEFAULT 'booked' CHECK (state IN ('booked', 'cancelled')),
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
);
CREATE INDEX appointments_advisor ON appointments (advisor_id, starts_at);

-- When a booked consultation opens (its slot's start, less the early
-- join); NULL for consultations made on the spot. Its maximum duration
-- counts from here instead of created_at.
ALTER TABLE consultations ADD COLUMN opens_at INTEGER;
