-- Parley records (PostgreSQL), schema version 2: documents presented in a call for
-- signature, their signature fields, and each document's audit trail.
-- No foreign key to consultations: a signed contract and its trail outlive
-- the consultation's other data (legal retention).

-- The same schema as 0002_documents.sql for SQLite (a test compares them):
-- BIGINT for SQLite's 64-bit INTEGER, identity columns for its INTEGER
-- PRIMARY KEY, BYTEA for BLOB.

CREATE TABLE documents (
	id              TEXT    PRIMARY KEY,            -- "d_" + 24 base32 characters
	consultation_id TEXT    NOT NULL,
	name            TEXT    NOT NULL,               -- file name shown to the signers
	pages           BIGINT  NOT NULL,
	size            BIGINT  NOT NULL,               -- bytes of the document as presented
	sha256          TEXT    NOT NULL,               -- hex, of the document as presented
	revision        BIGINT  NOT NULL DEFAULT 0,     -- signatures applied so far
	current_blob    TEXT    NOT NULL,               -- file id of the newest revision
	current_size    BIGINT  NOT NULL,
	current_sha256  TEXT    NOT NULL,
	state           TEXT    NOT NULL CHECK (state IN ('open', 'signed')),
	created_by      BIGINT  NOT NULL,               -- staff user id
	created_at      BIGINT  NOT NULL,
	signed_at       BIGINT                          -- when the last field was signed
);
CREATE INDEX documents_consultation ON documents (consultation_id, created_at);

-- Signature fields: who is to sign, and who signed when.
CREATE TABLE document_fields (
	document_id TEXT    NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
	name        TEXT    NOT NULL,                   -- "customer", "advisor"
	signer      TEXT    NOT NULL CHECK (signer IN ('customer', 'advisor')),
	position    BIGINT  NOT NULL,
	signer_name TEXT,
	signer_ref  TEXT,                               -- "participant:<id>" or "staff:<user id>"
	signed_at   BIGINT,
	PRIMARY KEY (document_id, name)
);

-- Audit trail, one hash chain per document: hash = SHA-256 of the previous
-- event's hash and this event's canonical encoding (records/audit.go).
CREATE TABLE audit_events (
	document_id TEXT    NOT NULL,
	seq         BIGINT  NOT NULL,
	at          BIGINT  NOT NULL,
	kind        TEXT    NOT NULL,
	actor       TEXT    NOT NULL,                   -- role:id, never an IP address
	detail      TEXT    NOT NULL,                   -- JSON object
	prev_hash   TEXT    NOT NULL,
	hash        TEXT    NOT NULL,
	PRIMARY KEY (document_id, seq)
);
