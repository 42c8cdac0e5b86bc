package blobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Options name the bucket of an S3-compatible object store.
type S3Options struct {
	Endpoint        string // host or host:port
	Bucket          string
	Region          string // empty: asked from the server
	Prefix          string // in front of every object name, e.g. "parley/files/"
	AccessKeyID     string
	SecretAccessKey string
	UseTLS          bool
	PathStyle       bool // bucket in the path rather than the host name
}

// s3PartSize is the part size of uploads: what one upload buffers.
const s3PartSize = 8 << 20

// s3Timeout bounds one S3 call of the methods that take no ctx.
const s3Timeout = time.Minute

// s3Bucket is the S3 backend of a Store: objects <prefix><cid>/<fid> in
// the file format of STORAGE.md. Each object is written by one PutObject
// (or one multipart upload, completed atomically), so it is whole or
// absent; there are no temporary objects, no sidecars and no lock.
type s3Bucket struct {
	c      *minio.Client
	bucket string
	prefix string
}

// OpenS3 returns the store in bucket opt.Bucket under opt.Prefix, which
// must exist. New files are encrypted with ring's current key before they
// leave the process: the bucket only ever holds ciphertext.
func OpenS3(ctx context.Context, opt S3Options, ring *KeyRing) (*Store, error) {
	if ring == nil || len(ring.keys) == 0 {
		return nil, errors.New("blobs: no storage key ring")
	}
	mo := &minio.Options{
		Creds:  credentials.NewStaticV4(opt.AccessKeyID, opt.SecretAccessKey, ""),
		Secure: opt.UseTLS,
		Region: opt.Region,
	}
	if opt.PathStyle {
		mo.BucketLookup = minio.BucketLookupPath
	}
	c, err := minio.New(opt.Endpoint, mo)
	if err != nil {
		return nil, fmt.Errorf("blobs: S3 client for %s: %w", opt.Endpoint, err)
	}
	ok, err := c.BucketExists(ctx, opt.Bucket)
	if err != nil {
		return nil, fmt.Errorf("blobs: S3 bucket %q at %s: %w", opt.Bucket, opt.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("blobs: S3 bucket %q does not exist at %s: create it first", opt.Bucket, opt.Endpoint)
	}
	return &Store{root: "s3://" + opt.Bucket + "/" + opt.Prefix, ring: ring,
		s3: &s3Bucket{c: c, bucket: opt.Bucket, prefix: opt.Prefix}}, nil
}

func (b *s3Bucket) key(cid, fid string) string { return b.prefix + cid + "/" + fid }

func opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s3Timeout)
}

// notFound reports whether err is S3's answer for a missing object.
func notFound(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == minio.NoSuchKey || code == "NotFound" || minio.ToErrorResponse(err).StatusCode == http.StatusNotFound
}

// stat returns the object's size and ETag (ErrNotFound).
func (b *s3Bucket) stat(ctx context.Context, cid, fid string) (minio.ObjectInfo, error) {
	info, err := b.c.StatObject(ctx, b.bucket, b.key(cid, fid), minio.StatObjectOptions{})
	if notFound(err) {
		return info, ErrNotFound
	}
	if err != nil {
		return info, fmt.Errorf("blobs: S3 stat %s/%s: %w", cid, fid, err)
	}
	return info, nil
}

func (b *s3Bucket) exists(cid, fid string) (bool, error) {
	ctx, cancel := opCtx()
	defer cancel()
	_, err := b.stat(ctx, cid, fid)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// put encrypts r into a pipe that PutObject reads: plaintext never leaves
// the process. ifMatch "" writes only a new object (ErrExists otherwise,
// checked before and, where the server supports conditional writes, by
// If-None-Match); an ETag replaces only that version (Rekey).
func (b *s3Bucket) put(ctx context.Context, k *ringKey, cid, fid, uploader string, r io.Reader, ifMatch string) (int64, error) {
	if ifMatch == "" {
		if _, err := b.stat(ctx, cid, fid); err == nil {
			return 0, ErrExists
		} else if !errors.Is(err, ErrNotFound) {
			return 0, err
		}
	}
	pr, pw := io.Pipe()
	var n int64
	done := make(chan error, 1)
	go func() {
		var err error
		n, err = encrypt(pw, k, cid, fid, uploader, readerCtx{ctx, r})
		pw.CloseWithError(err)
		done <- err
	}()
	opts := minio.PutObjectOptions{PartSize: s3PartSize, ContentType: "application/octet-stream"}
	if ifMatch == "" {
		opts.SetMatchETagExcept("*")
	} else {
		opts.SetMatchETag(ifMatch)
	}
	_, err := b.c.PutObject(ctx, b.bucket, b.key(cid, fid), pr, -1, opts)
	pr.CloseWithError(errors.New("blobs: upload stopped")) // unblocks the encrypter
	encErr := <-done
	if encErr != nil {
		return 0, fmt.Errorf("blobs: write %s: %w", fid, encErr)
	}
	if err != nil {
		if code := minio.ToErrorResponse(err).StatusCode; code == http.StatusPreconditionFailed || code == http.StatusConflict {
			if ifMatch == "" {
				return 0, ErrExists
			}
			return 0, errReplaced
		}
		return 0, fmt.Errorf("blobs: S3 put %s/%s: %w", cid, fid, err)
	}
	return n, nil
}

// errReplaced: the object changed (or went) while Rekey re-encrypted it.
var errReplaced = errors.New("blobs: object changed meanwhile")

// s3Object reads an object's ciphertext by ranged GETs of the version
// first seen (If-Match), keeping the first bytes (header and metadata) from
// one request.
type s3Object struct {
	b    *s3Bucket
	key  string
	etag string
	size int64
	head []byte // bytes 0..len(head)-1
}

// s3HeadBytes is what open reads at once: header and metadata fit.
const s3HeadBytes = 8 << 10

func (o *s3Object) ReadAt(p []byte, off int64) (int, error) {
	if off >= o.size {
		return 0, io.EOF
	}
	if off+int64(len(p)) <= int64(len(o.head)) {
		return copy(p, o.head[off:]), nil
	}
	end := min(off+int64(len(p)), o.size) - 1
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(off, end); err != nil {
		return 0, err
	}
	if err := opts.SetMatchETag(o.etag); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s3Timeout)
	defer cancel()
	obj, err := o.b.c.GetObject(ctx, o.b.bucket, o.key, opts)
	if err != nil {
		return 0, fmt.Errorf("blobs: S3 get: %w", err)
	}
	defer obj.Close()
	n, err := io.ReadFull(obj, p[:end-off+1])
	if err != nil {
		if minio.ToErrorResponse(err).StatusCode == http.StatusPreconditionFailed {
			return n, corrupt(o.key, "replaced while reading")
		}
		return n, fmt.Errorf("blobs: S3 read: %w", err)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (o *s3Object) Close() error { return nil }

// open returns the object's reader after checking its header (and with
// tail its last segment).
func (s *Store) openS3(cid, fid string, tail bool) (*Reader, error) {
	b := s.s3
	ctx, cancel := opCtx()
	defer cancel()
	info, err := b.stat(ctx, cid, fid)
	if err != nil {
		return nil, err
	}
	// Each later read is one ranged GET of a segment, bounded by s3Timeout.
	o := &s3Object{b: b, key: b.key(cid, fid), etag: info.ETag, size: info.Size}
	if n := min(info.Size, s3HeadBytes); n > 0 {
		head := make([]byte, n)
		if _, err := o.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		o.head = head
	}
	r, err := s.newReader(o, info.Size, nil, cid, fid, tail)
	if err != nil {
		return nil, err
	}
	r.etag = info.ETag
	return r, nil
}

func (b *s3Bucket) delete(cid, fid string) error {
	ctx, cancel := opCtx()
	defer cancel()
	if _, err := b.stat(ctx, cid, fid); err != nil {
		return err
	}
	if err := b.c.RemoveObject(ctx, b.bucket, b.key(cid, fid), minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("blobs: S3 delete %s/%s: %w", cid, fid, err)
	}
	return nil
}

// files lists the file ids of consultation cid.
func (b *s3Bucket) files(ctx context.Context, cid string) ([]string, error) {
	var out []string
	p := b.prefix + cid + "/"
	for obj := range b.c.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: p, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("blobs: S3 list %s: %w", cid, obj.Err)
		}
		if fid := strings.TrimPrefix(obj.Key, p); ValidFileID(fid) {
			out = append(out, fid)
		}
	}
	return out, nil
}

// removeConsultation removes every object under the consultation's
// prefix (also names that are no file id) and aborts its unfinished
// uploads, so nothing of it is left in the bucket.
func (b *s3Bucket) removeConsultation(cid string) error {
	ctx, cancel := opCtx()
	defer cancel()
	p := b.prefix + cid + "/"
	objs := make(chan minio.ObjectInfo)
	var listErr error
	go func() {
		defer close(objs)
		for obj := range b.c.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: p, Recursive: true}) {
			if obj.Err != nil {
				listErr = obj.Err
				return
			}
			select {
			case objs <- obj:
			case <-ctx.Done():
				return
			}
		}
	}()
	var errs []error
	for e := range b.c.RemoveObjects(ctx, b.bucket, objs, minio.RemoveObjectsOptions{}) {
		errs = append(errs, fmt.Errorf("%s: %w", e.ObjectName, e.Err))
	}
	if listErr != nil { // set before objs was closed, which ended RemoveObjects
		errs = append(errs, listErr)
	}
	if _, err := b.abortUploads(ctx, p, 0, time.Now()); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("blobs: S3 remove files of %s: %w", cid, err)
	}
	return nil
}

// consultations lists the consultations that have objects.
func (b *s3Bucket) consultations() ([]string, error) {
	ctx, cancel := opCtx()
	defer cancel()
	var out []string
	for obj := range b.c.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: b.prefix}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("blobs: S3 list: %w", obj.Err)
		}
		cid, ok := strings.CutSuffix(strings.TrimPrefix(obj.Key, b.prefix), "/")
		if ok && validConsultationID(cid) {
			out = append(out, cid)
		}
	}
	return out, nil
}

// abortUploads aborts the unfinished multipart uploads under prefix that
// began more than olderThan before now (an upload cut short by a crash).
func (b *s3Bucket) abortUploads(ctx context.Context, prefix string, olderThan time.Duration, now time.Time) (int, error) {
	n := 0
	for u := range b.c.ListIncompleteUploads(ctx, b.bucket, prefix, true) {
		if u.Err != nil {
			if minio.ToErrorResponse(u.Err).StatusCode == http.StatusNotImplemented {
				return n, nil // the server keeps no unfinished uploads to list
			}
			return n, fmt.Errorf("blobs: S3 list unfinished uploads: %w", u.Err)
		}
		if now.Sub(u.Initiated) < olderThan {
			continue
		}
		if err := b.c.RemoveIncompleteUpload(ctx, b.bucket, u.Key); err != nil {
			return n, fmt.Errorf("blobs: S3 abort upload: %w", err)
		}
		n++
	}
	return n, nil
}

// rekey re-encrypts the objects not under the current key, each replaced
// only if it is still the version read (If-Match where the server honours
// it, else after a fresh stat).
func (s *Store) rekeyS3(ctx context.Context) (int, error) {
	b := s.s3
	cids, err := b.consultations()
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, cid := range cids {
		fids, err := b.files(ctx, cid)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, fid := range fids {
			if err := ctx.Err(); err != nil {
				return n, errors.Join(append(errs, err)...)
			}
			done, err := s.rekeyObject(ctx, cid, fid)
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

func (s *Store) rekeyObject(ctx context.Context, cid, fid string) (bool, error) {
	r, err := s.openS3(cid, fid, true)
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
	// Re-encrypt from a copy of the plaintext in memory: the replacement
	// must not read the object it overwrites.
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.NewSectionReader(r, 0, r.size)); err != nil {
		return false, fmt.Errorf("blobs: re-encrypt %s/%s: %w", cid, fid, err)
	}
	defer clear(buf.Bytes())
	if info, err := s.s3.stat(ctx, cid, fid); err != nil || info.ETag != r.etag {
		return false, nil // deleted or replaced meanwhile
	}
	_, err = s.s3.put(ctx, &s.ring.keys[0], cid, fid, r.uploader, &buf, r.etag)
	if errors.Is(err, errReplaced) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("blobs: re-encrypt %s/%s: %w", cid, fid, err)
	}
	return true, nil
}
