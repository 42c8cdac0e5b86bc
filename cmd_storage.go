package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/node"
)

const storageUsage = `Usage:
  parley storage genkey [--id ID]
      print a new storage key line "<id> <base64>" (for the key file)
  parley storage rekey [--key-file FILE] [--migrate-plaintext]
      re-encrypt every stored file and document not under the current
      (first) key; --migrate-plaintext also encrypts files stored before
      encryption at rest
Common flags: --config FILE, --data-dir DIR.
Keys come from --key-file, else storage.key (PARLEY_STORAGE_KEY: key lines,
comma-separated), else storage.key_file (PARLEY_STORAGE_KEY_FILE), else the
development key in <data_dir>/keys. Rotation step by step: blobs/STORAGE.md.
`

// storageCmd runs "parley storage".
func storageCmd(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, storageUsage)
		return errors.New("storage: missing subcommand")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("parley storage "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, storageUsage) }
	switch sub {
	case "genkey":
		id := fs.String("id", "k"+time.Now().UTC().Format("20060102"), "key id (letters, digits, '.', '_', '-')")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("storage genkey: unexpected argument %q", fs.Arg(0))
		}
		line, err := blobs.GenerateKeyLine(*id)
		if err != nil {
			return fmt.Errorf("storage genkey: %w", err)
		}
		fmt.Fprintln(stdout, line)
		fmt.Fprintln(stderr, "Put this line FIRST in the storage key file (keep the old lines below it),\n"+
			"restart, then run: parley storage rekey. Steps: blobs/STORAGE.md.")
		return nil
	case "rekey":
		configPath := fs.String("config", "", "YAML configuration file")
		dataDir := fs.String("data-dir", "", "data directory (overrides the configuration)")
		keyFile := fs.String("key-file", "", "storage key file (default: see below)")
		migrate := fs.Bool("migrate-plaintext", false, "also encrypt files stored before encryption at rest")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("storage rekey: unexpected argument %q", fs.Arg(0))
		}
		cfg := config.Default()
		if *configPath != "" {
			if err := config.LoadFile(&cfg, *configPath); err != nil {
				return err
			}
		}
		if err := config.ApplyEnv(&cfg, environ); err != nil {
			return err
		}
		if *dataDir != "" {
			cfg.DataDir = *dataDir
		}
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		return storageRekey(ctx, cfg, *keyFile, *migrate, stdout, log)
	default:
		fmt.Fprint(stderr, storageUsage)
		return fmt.Errorf("storage: unknown subcommand %q", sub)
	}
}

// storageKeyRing loads the storage keys: keyFile (the flag), else the
// configuration's storage.key / storage.key_file (PARLEY_STORAGE_KEY,
// PARLEY_STORAGE_KEY_FILE), else the development key in <data_dir>/keys.
func storageKeyRing(keyFile string, cfg config.Config, log *slog.Logger) (*blobs.KeyRing, error) {
	if keyFile != "" {
		return blobs.LoadKeyRing(keyFile, "", log)
	}
	return node.StorageKeys(cfg, log)
}

// storageRekey re-encrypts both stores, in the data directory or in the
// S3 bucket (storage.backend).
func storageRekey(ctx context.Context, cfg config.Config, keyFile string, migrate bool, stdout io.Writer, log *slog.Logger) error {
	dataDir := cfg.DataDir
	if st, err := os.Stat(dataDir); cfg.Storage.Backend != config.StorageS3 && (err != nil || !st.IsDir()) {
		return fmt.Errorf("storage rekey: data directory %s: not found", dataDir)
	}
	ring, err := storageKeyRing(keyFile, cfg, log)
	if err != nil {
		return fmt.Errorf("storage rekey: %w", err)
	}
	fmt.Fprintf(stdout, "Keys: %s (current: %s)\n", strings.Join(ring.IDs(), ", "), ring.Current())
	var errs []error
	for _, name := range []string{"files", "documents"} {
		store, err := node.OpenStore(ctx, cfg, name, ring)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if migrate {
			n, err := store.MigratePlaintext(ctx)
			fmt.Fprintf(stdout, "%s: %d unencrypted files encrypted\n", name, n)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
		n, err := store.Rekey(ctx)
		fmt.Fprintf(stdout, "%s: %d files re-encrypted to key %s\n", name, n, ring.Current())
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("storage rekey: some files are not under key %s (keep the old keys):\n%w", ring.Current(), err)
	}
	fmt.Fprintf(stdout, "Every stored file is under key %s; older keys may go from the key file.\n", ring.Current())
	return nil
}
