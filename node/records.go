package node

import (
	"context"
	"fmt"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/records"
)

// OpenRecords opens the records that cfg names: SQLite in the data
// directory, or the PostgreSQL database of records.url (whose password
// never reaches an error or a log line).
func OpenRecords(ctx context.Context, cfg config.Config) (*records.Store, error) {
	switch cfg.Records.Driver {
	case "postgres":
		s, err := records.OpenPostgres(ctx, cfg.Records.URL, cfg.Records.MaxConns)
		if err != nil {
			return nil, fmt.Errorf("open records: %w", err)
		}
		return s, nil
	case "sqlite", "":
	default:
		return nil, fmt.Errorf("records.driver: %q is not sqlite or postgres", cfg.Records.Driver)
	}
	s, err := records.Open(ctx, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("open records in %s: %w", cfg.DataDir, err)
	}
	return s, nil
}
