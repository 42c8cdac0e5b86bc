-- Parley records, schema version 4: who has seen which revision of a
-- document to its last page, so that the audit trail gets one "viewed"
-- event each however many nodes serve the viewers (AppendViewedOnce).

CREATE TABLE document_views (
	document_id TEXT    NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
	viewer      TEXT    NOT NULL,                   -- "participant:p_…", "staff:3"
	revision    INTEGER NOT NULL,
	PRIMARY KEY (document_id, viewer, revision)
);
