package blobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Rekey re-encrypts every file that is not under the ring's current key
// and returns how many it re-encrypted. Each file is rewritten aside and
// renamed over the old one, so a crash leaves it under the old key or the
// new, never lost; running Rekey again finishes the job. A file that fails
// (corrupt, or under a key the ring lacks) is left as it is and reported
// in the joined error while the others go on. Safe to run while the server
// uses the store.
func (s *Store) Rekey(ctx context.Context) (int, error) {
	if s.s3 != nil {
		return s.rekeyS3(ctx)
	}
	return s.eachFile(ctx, func(cid, fid, file string) (bool, error) {
		return s.rekeyFile(ctx, cid, fid, file)
	})
}

// MigratePlaintext encrypts the files stored before encryption at rest
// (those with a plaintext ".meta" sidecar) under the current key, removes
// their sidecars and returns how many it encrypted. Only for an
// installation upgraded from an unencrypted store: it vouches for whatever
// lies in the data directory.
//
// An S3 store never held plaintext files: there it does nothing.
func (s *Store) MigratePlaintext(ctx context.Context) (int, error) {
	if s.s3 != nil {
		return 0, nil
	}
	return s.eachFile(ctx, func(cid, fid, file string) (bool, error) {
		return s.migrateFile(ctx, cid, fid, file)
	})
}

// eachFile calls do for every stored file, counting its true results.
func (s *Store) eachFile(ctx context.Context, do func(cid, fid, file string) (bool, error)) (int, error) {
	cids, err := s.Consultations()
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, cid := range cids {
		dir := filepath.Join(s.root, cid)
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("blobs: list %s: %w", cid, err))
			continue
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || !ValidFileID(e.Name()) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return n, errors.Join(append(errs, err)...)
			}
			done, err := do(cid, e.Name(), filepath.Join(dir, e.Name()))
			if err != nil {
				errs = append(errs, err)
			}
			if done {
				n++
			}
		}
	}
	return n, errors.Join(errs...)
}

func (s *Store) rekeyFile(ctx context.Context, cid, fid, file string) (bool, error) {
	r, err := s.openReader(file, cid, fid, true)
	if errors.Is(err, ErrNotFound) {
		return false, nil // deleted meanwhile
	}
	if err != nil {
		return false, err
	}
	defer r.Close()
	if r.keyID == s.ring.Current() {
		return false, nil
	}
	return s.replace(ctx, cid, fid, file, r.uploader, r, r.st)
}

func (s *Store) migrateFile(ctx context.Context, cid, fid, file string) (bool, error) {
	sidecar := file + metaSuffix
	mb, err := os.ReadFile(sidecar)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // encrypted
	}
	if err != nil {
		return false, fmt.Errorf("blobs: read sidecar of %s/%s: %w", cid, fid, err)
	}
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("blobs: open: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("blobs: stat: %w", err)
	}
	head := make([]byte, len(magic))
	if _, err := io.ReadFull(f, head); err == nil && bytes.Equal(head, []byte(magic)) {
		// Encrypted by an earlier run that stopped before removing the sidecar.
		return false, s.removeSidecar(sidecar, filepath.Dir(file))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return false, fmt.Errorf("blobs: seek: %w", err)
	}
	var m meta
	if err := json.Unmarshal(mb, &m); err != nil {
		return false, fmt.Errorf("blobs: decode sidecar of %s/%s: %w", cid, fid, err)
	}
	done, err := s.replace(ctx, cid, fid, file, m.Uploader, f, st)
	if err != nil || !done {
		return done, err
	}
	return true, s.removeSidecar(sidecar, filepath.Dir(file))
}

func (s *Store) removeSidecar(sidecar, dir string) error {
	if err := os.Remove(sidecar); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blobs: remove sidecar: %w", err)
	}
	return syncDir(dir)
}

// replace writes src encrypted under the current key and renames it over
// file, unless file is no longer the one opened (st): deleted or replaced
// meanwhile, it is left alone.
func (s *Store) replace(ctx context.Context, cid, fid, file, uploader string, src io.Reader, st os.FileInfo) (bool, error) {
	dir := filepath.Dir(file)
	tmp, _, err := s.writeTemp(dir, cid, fid, uploader, readerCtx{ctx, src})
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // the consultation's directory went
	}
	if err != nil {
		return false, fmt.Errorf("blobs: re-encrypt %s/%s: %w", cid, fid, err)
	}
	defer os.Remove(tmp) // no-op after the rename
	unlock, err := s.lock()
	if err != nil {
		return false, err
	}
	defer unlock()
	now, err := os.Lstat(file)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !os.SameFile(st, now) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("blobs: stat: %w", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return false, fmt.Errorf("blobs: rename into place: %w", err)
	}
	return true, syncDir(dir)
}
