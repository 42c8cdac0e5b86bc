-- Parley records, schema version 2: documents presented in a call for
-- signature, their signature fields, and each document's audit trail.
-- No foreign key to consultations: a signed contract and its trail outlive
-- the consultation's other data (legal retention).

CREATE TABLE documents (
	id              TEXT    PRIMARY KEY,            -- "d_" + 24 base32 characters
	consultation_id TEXT    NOT NULL,
	name            TEXT    NOT NULL,               -- file name shown to the signers
	pages           INTEGER NOT NULL,
	size            INTEGER NOT NULL,               -- bytes of the document as presented
	sha256          TEXT    NOT NULL,               -- hex, of the document as presented
	revision        INTEGER NOT NULL DEFAULT 0,     -- signatures applied so far
	current_blob    TEXT    NOT NULL,               -- file id of the newest revision
	current_size    INTEGER NOT NULL,
	current_sha256  TEXT    NOT NULL,
	state           TEXT    NOT NULL CHECK (state IN ('open', 'signed')),
	created_by      INTEGER NOT NULL,               -- staff user id
	created_at      INTEGER NOT NULL,
	signed_at       INTEGER                         -- when the last field was signed
);
CREATE INDEX documents_consultation ON documents (consultation_id, created_at);

-- Signature fields: who is to sign, and who signed when.
CREATE TABLE document_fields (
	document_id TEXT    NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
	name        TEXT    NOT NULL,                   -- "customer", "advisor"
	signer      TEXT    NOT NULL CHECK (signer IN ('customer', 'advisor')),
	position    INTEGER NOT NULL,
	signer_name TEXT,
	signer_ref  TEXT,                               -- "participant:<id>" or "staff:<user id>"
	signed_at   INTEGER,
	PRIMARY KEY (document_id, name)
);

-- Audit trail, one hash chain per document: hash = SHA-256 of the previous
-- event's hash and this event's canonical encoding (records/audit.go).
CREATE TABLE audit_events (
	document_id TEXT    NOT NULL,
	seq         INTEGER NOT NULL,
	at          INTEGER NOT NULL,
	kind        TEXT    NOT NULL,
	actor       TEXT    NOT NULL,                   -- role:id, never an IP address
	detail      TEXT    NOT NULL,                   -- JSON object
	prev_hash   TEXT    NOT NULL,
	hash        TEXT    NOT NULL,
	PRIMARY KEY (document_id, seq)
);
