-- Parley records (PostgreSQL), schema version 4: who has seen which
-- revision of a document to its last page, so that the audit trail gets
-- one "viewed" event each however many nodes serve the viewers
-- (AppendViewedOnce). The same schema as 0004_document_views.sql for
-- SQLite (a test compares them): BIGINT for SQLite's 64-bit INTEGER.

CREATE TABLE document_views (
	document_id TEXT    NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
	viewer      TEXT    NOT NULL,                   -- "participant:p_…", "staff:3"
	revision    BIGINT  NOT NULL,
	PRIMARY KEY (document_id, viewer, revision)
);
