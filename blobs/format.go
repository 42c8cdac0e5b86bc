package blobs

// The encrypted file format (version 1), described in STORAGE.md:
//
//	header   magic "PRLYBLOB" | version 1 | key id length | key id |
//	         salt (32) | nonce prefix (7) | sealed metadata length (2, BE)
//	metadata AES-256-GCM(file key, prefix | 0xffffffff | 2, {"uploader":…}, header)
//	segment  AES-256-GCM(file key, prefix | counter (4, BE) | last, plaintext, header)
//
// The file key is HKDF-SHA256(storage key, salt, info) with info naming the
// consultation and file id, so a file moved to another id does not open.
// Segments hold 64 KiB of plaintext, the last one 0 to 64 KiB (0 only for
// an empty file); the last flag (1 on the final segment, else 0) in the
// nonce makes truncation and appending fail, the counter reordering, and
// the header as additional data any change to the header.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
)

const (
	magic         = "PRLYBLOB"
	formatVersion = 1
	saltSize      = 32
	prefixSize    = 7
	tagSize       = 16
	// SegmentSize is the plaintext size of every segment but the last.
	SegmentSize = 64 << 10
	maxMetaSize = 4 << 10 // plaintext of the metadata block

	fixedHeader = len(magic) + 2                 // magic, version, key id length
	tailHeader  = saltSize + prefixSize + 2      // salt, prefix, metadata length
	maxSegments = math.MaxUint32                 // counter values 0..MaxUint32-1
	segmentCT   = int64(SegmentSize + tagSize)   // a full sealed segment
	writeBatch  = 4                              // segments per write
	hkdfInfo    = "parley blobs v1 file key\x00" // + cid + "\x00" + fid

	flagSegment = 0
	flagLast    = 1
	flagMeta    = 2
)

// Errors of the encrypted format.
var (
	// ErrCorrupt: a stored file fails authentication or is malformed
	// (damaged, truncated, extended, or changed by someone without the key).
	ErrCorrupt = errors.New("blobs: file corrupt or tampered with")
	// ErrUnencrypted: a file stored before encryption at rest (it has the
	// old plaintext sidecar); "parley storage rekey --migrate-plaintext"
	// encrypts it.
	ErrUnencrypted = errors.New("blobs: file stored unencrypted before encryption at rest")
	// ErrTooLarge: a file over the format's limit (256 TiB).
	ErrTooLarge = errors.New("blobs: file too large")
)

// UnknownKeyError is returned for a file encrypted with a key the ring does
// not hold (an old key removed too early, or the wrong key file).
type UnknownKeyError struct {
	KeyID string // the id in the file's header
	File  string // consultation/file id
}

// Error names the file and the key id, never a key.
func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("blobs: %s is encrypted with storage key %q, which is not in the key ring", e.File, e.KeyID)
}

// fileCipher is the sealing state of one file.
type fileCipher struct {
	aead   cipher.AEAD
	header []byte
	prefix [prefixSize]byte
}

func newFileCipher(k *ringKey, header []byte, salt []byte, prefix []byte, cid, fid string) (*fileCipher, error) {
	key, err := hkdf.Key(sha256.New, k.secret, salt, hkdfInfo+cid+"\x00"+fid, KeySize)
	if err != nil {
		return nil, fmt.Errorf("blobs: derive file key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	c := &fileCipher{aead: aead, header: header}
	copy(c.prefix[:], prefix)
	return c, nil
}

func (c *fileCipher) nonce(counter uint32, flag byte) []byte {
	var n [12]byte
	copy(n[:], c.prefix[:])
	binary.BigEndian.PutUint32(n[prefixSize:], counter)
	n[11] = flag
	return n[:]
}

// encrypt writes uploader and r's bytes to w encrypted under key k for file
// fid of consultation cid, and returns the plaintext size. Memory is two
// segments whatever the size.
func encrypt(w io.Writer, k *ringKey, cid, fid, uploader string, r io.Reader) (int64, error) {
	mb, err := json.Marshal(meta{Uploader: uploader})
	if err != nil {
		return 0, fmt.Errorf("blobs: encode metadata: %w", err)
	}
	if len(mb) > maxMetaSize {
		return 0, errors.New("blobs: uploader too long")
	}
	random := make([]byte, saltSize+prefixSize)
	if _, err := rand.Read(random); err != nil {
		return 0, fmt.Errorf("blobs: random salt: %w", err)
	}
	salt, prefix := random[:saltSize], random[saltSize:]
	header := make([]byte, 0, fixedHeader+len(k.id)+tailHeader)
	header = append(header, magic...)
	header = append(header, formatVersion, byte(len(k.id)))
	header = append(header, k.id...)
	header = append(header, random...)
	header = binary.BigEndian.AppendUint16(header, uint16(len(mb)+tagSize))
	c, err := newFileCipher(k, header, salt, prefix, cid, fid)
	if err != nil {
		return 0, err
	}

	// Sealed segments collect in out and go to w a batch at a time (fewer,
	// larger writes).
	out := make([]byte, 0, writeBatch*int(segmentCT))
	out = append(out, header...)
	out = c.aead.Seal(out, c.nonce(math.MaxUint32, flagMeta), mb, header)

	// A segment is sealed once the next one has begun or the input ended,
	// so the last one carries the last flag.
	cur, next := make([]byte, SegmentSize), make([]byte, SegmentSize)
	n, done, err := fill(r, cur)
	if err != nil {
		return 0, err
	}
	var total int64
	for i := uint64(0); ; i++ {
		if i >= maxSegments {
			return 0, ErrTooLarge
		}
		last, nn := done, 0
		if !done {
			if nn, done, err = fill(r, next); err != nil {
				return 0, err
			}
			last = nn == 0
		}
		flag := byte(flagSegment)
		if last {
			flag = flagLast
		}
		out = c.aead.Seal(out, c.nonce(uint32(i), flag), cur[:n], header)
		total += int64(n)
		if last || cap(out)-len(out) < int(segmentCT) {
			if _, err := w.Write(out); err != nil {
				return 0, err
			}
			out = out[:0]
		}
		if last {
			clear(cur)
			clear(next)
			return total, nil
		}
		cur, next, n = next, cur, nn
	}
}

// fill reads into buf until it is full or r ends (done).
func fill(r io.Reader, buf []byte) (n int, done bool, err error) {
	n, err = io.ReadFull(r, buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return n, true, nil
	case err != nil:
		return 0, false, err
	}
	return n, false, nil
}

// Reader reads a stored file's plaintext. Seeking and ReadAt decrypt only
// the segments they touch; every byte returned has been authenticated.
// Safe for concurrent use.
type Reader struct {
	f        source
	c        *fileCipher
	name     string // cid/fid
	keyID    string
	uploader string
	data     int64 // file offset of segment 0
	size     int64 // plaintext size
	nseg     int64
	st       os.FileInfo // local files: what Rekey compares before replacing
	etag     string      // S3 objects: the version read

	mu  sync.Mutex
	pos int64
	seg int64  // segment in buf, -1 for none
	buf []byte // sealed segment, then its plaintext in place
	pt  []byte // plaintext of seg
}

// corrupt is ErrCorrupt naming the file and what failed.
func corrupt(name, what string) error {
	return fmt.Errorf("%w: %s: %s", ErrCorrupt, name, what)
}

// source is where a Reader reads ciphertext from: a local file or an S3
// object.
type source interface {
	io.ReaderAt
	io.Closer
}

// openReader opens file (of cid/fid) and checks its header and metadata;
// with tail, also its last segment, so truncation and appending show now
// rather than at the end of a download.
func (s *Store) openReader(file, cid, fid string, tail bool) (*Reader, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("blobs: open: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blobs: stat: %w", err)
	}
	sidecar := func() bool { _, err := os.Stat(file + metaSuffix); return err == nil }
	r, err := s.newReader(f, st.Size(), sidecar, cid, fid, tail)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.st = st
	return r, nil
}

// newReader checks the header and metadata of the fileSize bytes of
// ciphertext in f (and with tail its last segment). sidecar reports
// whether a plaintext sidecar exists (files from before encryption).
func (s *Store) newReader(f source, fileSize int64, sidecar func() bool, cid, fid string, tail bool) (*Reader, error) {
	name := cid + "/" + fid
	fixed := make([]byte, fixedHeader)
	if _, err := f.ReadAt(fixed, 0); err != nil || string(fixed[:len(magic)]) != magic {
		if sidecar != nil && sidecar() {
			return nil, fmt.Errorf("%w: %s", ErrUnencrypted, name)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("blobs: read %s: %w", name, err)
		}
		return nil, corrupt(name, "not an encrypted file")
	}
	if v := fixed[len(magic)]; v != formatVersion {
		return nil, fmt.Errorf("blobs: %s: unsupported format version %d", name, v)
	}
	idLen := int(fixed[len(magic)+1])
	if idLen == 0 || idLen > maxKeyIDLen {
		return nil, corrupt(name, "bad key id length")
	}
	header := make([]byte, fixedHeader+idLen+tailHeader)
	copy(header, fixed)
	if _, err := f.ReadAt(header[fixedHeader:], int64(fixedHeader)); err != nil {
		return nil, corrupt(name, "short header")
	}
	id := string(header[fixedHeader : fixedHeader+idLen])
	if !validKeyID(id) {
		return nil, corrupt(name, "bad key id")
	}
	k := s.ring.key(id)
	if k == nil {
		return nil, &UnknownKeyError{KeyID: id, File: name}
	}
	rest := header[fixedHeader+idLen:]
	metaLen := int(binary.BigEndian.Uint16(rest[saltSize+prefixSize:]))
	if metaLen < tagSize || metaLen > maxMetaSize+tagSize {
		return nil, corrupt(name, "bad metadata length")
	}
	c, err := newFileCipher(k, header, rest[:saltSize], rest[saltSize:saltSize+prefixSize], cid, fid)
	if err != nil {
		return nil, err
	}
	data := int64(len(header) + metaLen)
	body := fileSize - data
	if body < tagSize {
		return nil, corrupt(name, "truncated")
	}
	mb := make([]byte, metaLen)
	if _, err := f.ReadAt(mb, int64(len(header))); err != nil {
		return nil, corrupt(name, "short metadata")
	}
	mb, err = c.aead.Open(mb[:0], c.nonce(math.MaxUint32, flagMeta), mb, header)
	if err != nil {
		return nil, corrupt(name, "metadata does not authenticate (wrong file id or changed)")
	}
	var m meta
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, corrupt(name, "metadata")
	}

	// Every segment is full but the last, which holds 1..SegmentSize bytes
	// (or 0 when the whole file is empty).
	nseg, rem := body/segmentCT, body%segmentCT
	size := nseg * SegmentSize
	switch {
	case rem == 0:
	case rem < tagSize || rem == tagSize && nseg > 0:
		return nil, corrupt(name, "bad length")
	default:
		nseg++
		size += rem - tagSize
	}
	if nseg > maxSegments {
		return nil, corrupt(name, "bad length")
	}
	r := &Reader{f: f, c: c, name: name, keyID: id, uploader: m.Uploader, data: data, size: size, nseg: nseg, seg: -1}
	if tail {
		r.mu.Lock()
		err := r.load(nseg - 1)
		r.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

// load decrypts segment i into r.pt. r.mu is held.
func (r *Reader) load(i int64) error {
	if r.seg == i {
		return nil
	}
	if r.buf == nil {
		r.buf = make([]byte, segmentCT)
	}
	r.seg = -1
	n := segmentCT
	flag := byte(flagSegment)
	if i == r.nseg-1 {
		n = r.size - i*SegmentSize + tagSize
		flag = flagLast
	}
	ct := r.buf[:n]
	if _, err := r.f.ReadAt(ct, r.data+i*segmentCT); err != nil {
		if errors.Is(err, io.EOF) {
			return corrupt(r.name, "truncated while reading")
		}
		return fmt.Errorf("blobs: read %s: %w", r.name, err)
	}
	pt, err := r.c.aead.Open(ct[:0], r.c.nonce(uint32(i), flag), ct, r.c.header)
	if err != nil {
		return corrupt(r.name, fmt.Sprintf("segment %d does not authenticate", i))
	}
	r.pt, r.seg = pt, i
	return nil
}

// Read reads plaintext from the current position.
func (r *Reader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, err := r.readAt(p, r.pos, false)
	r.pos += int64(n)
	return n, err
}

// ReadAt reads plaintext at off; it does not move the position.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("blobs: negative offset")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.readAt(p, off, true)
}

// readAt copies from off; full keeps going across segments (ReadAt),
// otherwise it stops at the end of a segment (Read). r.mu is held.
func (r *Reader) readAt(p []byte, off int64, full bool) (int, error) {
	if r.f == nil {
		return 0, os.ErrClosed
	}
	n := 0
	for n < len(p) {
		if off >= r.size {
			return n, io.EOF
		}
		i := off / SegmentSize
		if err := r.load(i); err != nil {
			return n, err
		}
		c := copy(p[n:], r.pt[off-i*SegmentSize:])
		n += c
		off += int64(c)
		if !full {
			break
		}
	}
	return n, nil
}

// Seek sets the position for Read (io.Seeker).
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, errors.New("blobs: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("blobs: seek before the start")
	}
	r.pos = offset
	return offset, nil
}

// Size is the plaintext size.
func (r *Reader) Size() int64 { return r.size }

// KeyID is the id of the storage key the file is encrypted with.
func (r *Reader) KeyID() string { return r.keyID }

// Close closes the file and wipes the buffered plaintext.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return os.ErrClosed
	}
	clear(r.buf)
	r.pt, r.seg = nil, -1
	err := r.f.Close()
	r.f = nil
	return err
}
