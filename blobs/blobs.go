// Package blobs stores the files and photos of live consultations on disk:
// <root>/<consultation>/<fileId>, each with a small sidecar naming its
// uploader. The bytes are the sender's ciphertext; the store adds nothing
// and never learns names or types. Files are written to a temporary file,
// synced and renamed into place, so a file is either whole or absent.
package blobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	metaSuffix = ".meta"
	tmpPrefix  = ".tmp-"
)

// Store is the file store under one root directory. Safe for concurrent
// use.
type Store struct {
	root string
	mu   sync.Mutex // serialises the existence check and rename of Put
}

// Open returns the store under root, creating root (0700) when needed.
func Open(root string) (*Store, error) {
	if err := os.MkdirAll(root, dirPerm); err != nil {
		return nil, fmt.Errorf("blobs: create %s: %w", root, err)
	}
	return &Store{root: root}, nil
}

// Root is the store's directory.
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

// meta is the sidecar of a file.
type meta struct {
	Uploader string `json:"uploader"`
}

// Exists reports whether the file is stored.
func (s *Store) Exists(cid, fid string) (bool, error) {
	_, file, err := s.paths(cid, fid)
	if err != nil {
		return false, err
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

// Put streams r into file fid of consultation cid, recording uploader, and
// returns the size. ErrExists when the file is there already. r's errors
// (e.g. *http.MaxBytesError) come back wrapped; nothing is left behind.
func (s *Store) Put(ctx context.Context, cid, fid, uploader string, r io.Reader) (int64, error) {
	dir, file, err := s.paths(cid, fid)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return 0, fmt.Errorf("blobs: create directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, tmpPrefix+fid+"-*")
	if err != nil {
		return 0, fmt.Errorf("blobs: create temporary file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	n, err := io.Copy(tmp, readerCtx{ctx, r})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("blobs: write %s: %w", fid, err)
	}
	mb, err := json.Marshal(meta{Uploader: uploader})
	if err != nil {
		return 0, fmt.Errorf("blobs: encode sidecar: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Stat(file); err == nil {
		return 0, ErrExists
	}
	if err := writeFileAtomic(dir, file+metaSuffix, mb); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		os.Remove(file + metaSuffix)
		return 0, fmt.Errorf("blobs: rename into place: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return 0, err
	}
	return n, nil
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

func writeFileAtomic(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, tmpPrefix+"meta-*")
	if err != nil {
		return fmt.Errorf("blobs: create temporary sidecar: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		return fmt.Errorf("blobs: write sidecar: %w", err)
	}
	return nil
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

// Open opens the file for reading and returns its size (ErrNotFound).
func (s *Store) Open(cid, fid string) (*os.File, int64, error) {
	_, file, err := s.paths(cid, fid)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("blobs: open: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("blobs: stat: %w", err)
	}
	return f, st.Size(), nil
}

// Uploader returns who uploaded the file (ErrNotFound).
func (s *Store) Uploader(cid, fid string) (string, error) {
	_, file, err := s.paths(cid, fid)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(file + metaSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("blobs: read sidecar: %w", err)
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("blobs: decode sidecar: %w", err)
	}
	return m.Uploader, nil
}

// Delete removes the file and its sidecar (ErrNotFound).
func (s *Store) Delete(cid, fid string) error {
	_, file, err := s.paths(cid, fid)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.RemoveAll(filepath.Join(s.root, cid)); err != nil {
		return fmt.Errorf("blobs: remove files of %s: %w", cid, err)
	}
	return nil
}

// Consultations lists the consultations that have a directory.
func (s *Store) Consultations() ([]string, error) {
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

// RemoveTemporary removes leftover temporary files of consultation cid (an
// upload cut short by a crash).
func (s *Store) RemoveTemporary(cid string) error {
	if !validConsultationID(cid) {
		return ErrBadID
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
