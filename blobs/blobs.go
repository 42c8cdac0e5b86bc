// Package blobs stores the files and photos of live consultations and the
// documents of contracts on disk, <root>/<consultation>/<fileId>, or in an
// S3-compatible bucket (OpenS3, s3.go), encrypted
// at rest with AES-256-GCM under a key of a KeyRing (format and key
// rotation: STORAGE.md). The uploader's id is sealed inside the file, next
// to the content. Files are written to a temporary file, synced and renamed
// into place, so a file is either whole or absent.
package blobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Errors of the store.
var (
	ErrExists   = errors.New("blobs: file exists")
	ErrNotFound = errors.New("blobs: no such file")
	ErrBadID    = errors.New("blobs: malformed id")
)

const (
	dirPerm    = 0o700
	filePerm   = 0o600
	metaSuffix = ".meta" // plaintext sidecar of files stored before encryption
	tmpPrefix  = ".tmp-"
	lockName   = ".lock"
)

// Store is the file store under one root directory. Safe for concurrent
// use, also by several processes (the server and "parley storage rekey").
//
// The bytes go to one of two backends: a local directory (Open, the
// default) or an S3-compatible bucket (OpenS3). Encryption happens here,
// above the backend, so either only ever holds the format of STORAGE.md.
type Store struct {
	root string
	ring *KeyRing
	mu   sync.Mutex // with the lock file: renames and removals
	s3   *s3Bucket  // nil: the local directory root
}

// Open returns the store under root, creating root (0700) when needed. New
// files are encrypted with ring's current key; files under its older keys
// stay readable.
func Open(root string, ring *KeyRing) (*Store, error) {
	if ring == nil || len(ring.keys) == 0 {
		return nil, errors.New("blobs: no storage key ring")
	}
	if err := os.MkdirAll(root, dirPerm); err != nil {
		return nil, fmt.Errorf("blobs: create %s: %w", root, err)
	}
	return &Store{root: root, ring: ring}, nil
}

// lock excludes the other goroutines and processes changing the store:
// Put's existence check and rename, Rekey's replacements, deletions.
func (s *Store) lock() (unlock func(), err error) {
	s.mu.Lock()
	f, err := os.OpenFile(filepath.Join(s.root, lockName), os.O_RDWR|os.O_CREATE, filePerm)
	if err == nil {
		if err = lockFile(f); err != nil {
			f.Close()
		}
	}
	if err != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("blobs: lock %s: %w", s.root, err)
	}
	return func() {
		f.Close() // releases the lock
		s.mu.Unlock()
	}, nil
}

// Root is the store's directory (for S3: "s3://bucket/prefix").
func (s *Store) Root() string { return s.root }

// ValidFileID reports whether id is 32 lowercase hex digits.
func ValidFileID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := range len(id) {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// validConsultationID accepts the characters of records' ids (and no
// path tricks).
func validConsultationID(id string) bool {
	if id == "" || len(id) > 64 || id[0] == '.' {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (s *Store) paths(cid, fid string) (dir, file string, err error) {
	if !validConsultationID(cid) || !ValidFileID(fid) {
		return "", "", ErrBadID
	}
	dir = filepath.Join(s.root, cid)
	return dir, filepath.Join(dir, fid), nil
}

// meta is the metadata sealed into a file (and the plaintext sidecar of
// files stored before encryption).
type meta struct {
	Uploader string `json:"uploader"`
}

// Exists reports whether the file is stored.
func (s *Store) Exists(cid, fid string) (bool, error) {
	_, file, err := s.paths(cid, fid)
	if err != nil {
		return false, err
	}
	if s.s3 != nil {
		return s.s3.exists(cid, fid)
	}
	_, err = os.Stat(file)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("blobs: stat: %w", err)
	}
}

// Put streams r into file fid of consultation cid, encrypted, recording
// uploader, and returns the (plaintext) size. ErrExists when the file is
// there already. r's errors (e.g. *http.MaxBytesError) come back wrapped;
// nothing is left behind.
func (s *Store) Put(ctx context.Context, cid, fid, uploader string, r io.Reader) (int64, error) {
	dir, file, err := s.paths(cid, fid)
	if err != nil {
		return 0, err
	}
	if s.s3 != nil {
		return s.s3.put(ctx, &s.ring.keys[0], cid, fid, uploader, r, "")
	}
	if err := s.makeDir(dir); err != nil {
		return 0, err
	}
	tmp, n, err := s.writeTemp(dir, cid, fid, uploader, readerCtx{ctx, r})
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp) // no-op after the rename

	unlock, err := s.lock()
	if err != nil {
		return 0, err
	}
	defer unlock()
	if _, err := os.Lstat(file); err == nil {
		return 0, ErrExists
	}
	if err := os.Rename(tmp, file); err != nil {
		return 0, fmt.Errorf("blobs: rename into place: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return 0, err
	}
	return n, nil
}

// makeDir creates a consultation's directory if needed, and then syncs
// the root, so that the new directory entry (and the files renamed into
// it later) survives a crash.
func (s *Store) makeDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return fmt.Errorf("blobs: create directory: %w", err)
	}
	return syncDir(s.root)
}

// Modified returns when the file was stored (ErrNotFound): the rename into
// place, on S3 the completion of the upload.
func (s *Store) Modified(cid, fid string) (time.Time, error) {
	_, file, err := s.paths(cid, fid)
	if err != nil {
		return time.Time{}, err
	}
	if s.s3 != nil {
		ctx, cancel := opCtx()
		defer cancel()
		info, err := s.s3.stat(ctx, cid, fid)
		if err != nil {
			return time.Time{}, err
		}
		return info.LastModified, nil
	}
	info, err := os.Stat(file)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, ErrNotFound
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("blobs: stat: %w", err)
	}
	return info.ModTime(), nil
}

// writeTemp writes r encrypted under the current key to a synced
// temporary file in dir and returns its name and the plaintext size.
func (s *Store) writeTemp(dir, cid, fid, uploader string, r io.Reader) (string, int64, error) {
	tmp, err := os.CreateTemp(dir, tmpPrefix+fid+"-*")
	if err != nil {
		return "", 0, fmt.Errorf("blobs: create temporary file: %w", err)
	}
	n, err := encrypt(tmp, &s.ring.keys[0], cid, fid, uploader, r)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", 0, fmt.Errorf("blobs: write %s: %w", fid, err)
	}
	return tmp.Name(), n, nil
}

// readerCtx stops reading when ctx is done.
type readerCtx struct {
	ctx context.Context
	r   io.Reader
}

func (r readerCtx) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("blobs: open directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("blobs: sync directory: %w", err)
	}
	return nil
}

// Open opens the file for reading and returns its plaintext reader and
// size (ErrNotFound). The header, the metadata and the last segment are
// checked now (ErrCorrupt, *UnknownKeyError, ErrUnencrypted); other
// segments as they are read, so a damaged segment fails that Read.
func (s *Store) Open(cid, fid string) (*Reader, int64, error) {
	_, file, err := s.paths(cid, fid)
	if err != nil {
		return nil, 0, err
	}
	var r *Reader
	if s.s3 != nil {
		r, err = s.openS3(cid, fid, true)
	} else {
		r, err = s.openReader(file, cid, fid, true)
	}
	if err != nil {
		return nil, 0, err
	}
	return r, r.size, nil
}

// Uploader returns who uploaded the file (ErrNotFound).
func (s *Store) Uploader(cid, fid string) (string, error) {
	_, file, err := s.paths(cid, fid)
	if err != nil {
		return "", err
	}
	var r *Reader
	if s.s3 != nil {
		r, err = s.openS3(cid, fid, false)
	} else {
		r, err = s.openReader(file, cid, fid, false)
	}
	if err != nil {
		return "", err
	}
	r.Close()
	return r.uploader, nil
}

// Delete removes the file and its sidecar (ErrNotFound).
func (s *Store) Delete(cid, fid string) error {
	_, file, err := s.paths(cid, fid)
	if err != nil {
		return err
	}
	if s.s3 != nil {
		return s.s3.delete(cid, fid)
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	err = os.Remove(file)
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("blobs: delete: %w", err)
	}
	if err := os.Remove(file + metaSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blobs: delete sidecar: %w", err)
	}
	return nil
}

// RemoveConsultation removes every file of consultation cid.
func (s *Store) RemoveConsultation(cid string) error {
	if !validConsultationID(cid) {
		return ErrBadID
	}
	if s.s3 != nil {
		return s.s3.removeConsultation(cid)
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.RemoveAll(filepath.Join(s.root, cid)); err != nil {
		return fmt.Errorf("blobs: remove files of %s: %w", cid, err)
	}
	return nil
}

// Consultations lists the consultations that have a directory.
func (s *Store) Consultations() ([]string, error) {
	if s.s3 != nil {
		return s.s3.consultations()
	}
	entries, err := os.ReadDir(s.root)
	if err != nil {
		return nil, fmt.Errorf("blobs: list %s: %w", s.root, err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && validConsultationID(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Files lists the file ids stored for consultation cid (none when it has
// no files).
func (s *Store) Files(cid string) ([]string, error) {
	if !validConsultationID(cid) {
		return nil, ErrBadID
	}
	if s.s3 != nil {
		ctx, cancel := opCtx()
		defer cancel()
		return s.s3.files(ctx, cid)
	}
	entries, err := os.ReadDir(filepath.Join(s.root, cid))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("blobs: list %s: %w", cid, err)
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && ValidFileID(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// RemoveTemporary removes leftover temporary files of consultation cid (an
// upload cut short by a crash; on S3, its unfinished multipart uploads).
func (s *Store) RemoveTemporary(cid string) error {
	if !validConsultationID(cid) {
		return ErrBadID
	}
	if s.s3 != nil {
		ctx, cancel := opCtx()
		defer cancel()
		_, err := s.s3.abortUploads(ctx, s.s3.prefix+cid+"/", 0, time.Now())
		return err
	}
	dir := filepath.Join(s.root, cid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("blobs: list %s: %w", cid, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("blobs: remove leftover: %w", err)
			}
		}
	}
	return nil
}

// StaleTempAge is how long a temporary file may go unmodified before
// RemoveStaleTemporary takes it for the leftover of a crash. A writer
// (Put, Rekey, in this process or another) changes its temporary file at
// least every few milliseconds while it works.
const StaleTempAge = time.Minute

// RemoveStaleTemporary removes the temporary files in every consultation's
// directory that were last modified more than olderThan ago: what a crash
// between writing and renaming left behind (a document being signed, an
// upload). It returns how many it removed; it never touches stored files.
//
// On S3 there are no temporary objects: it aborts the multipart uploads
// begun more than olderThan ago and never completed.
func (s *Store) RemoveStaleTemporary(olderThan time.Duration, now time.Time) (int, error) {
	if s.s3 != nil {
		ctx, cancel := opCtx()
		defer cancel()
		return s.s3.abortUploads(ctx, s.s3.prefix, olderThan, now)
	}
	cids, err := s.Consultations()
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, cid := range cids {
		dir := filepath.Join(s.root, cid)
		entries, err := os.ReadDir(dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // removed meanwhile
				continue
			}
			return removed, fmt.Errorf("blobs: list %s: %w", cid, err)
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), tmpPrefix) || !e.Type().IsRegular() {
				continue
			}
			info, err := e.Info()
			if err != nil || now.Sub(info.ModTime()) < olderThan {
				continue // gone meanwhile, or still being written
			}
			err = os.Remove(filepath.Join(dir, e.Name()))
			switch {
			case err == nil:
				removed++
			case !errors.Is(err, fs.ErrNotExist):
				return removed, fmt.Errorf("blobs: remove leftover in %s: %w", cid, err)
			}
		}
	}
	return removed, nil
}
