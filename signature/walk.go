package signature

import (
	"context"
	"fmt"
	"io"

	"github.com/digitorus/pdf"
)

// walkObjects is the last step of intake: it reads every object stored
// directly in the file, checks each stream's /Length (a direct integer
// within the file) and inflates every stream whose filters the reader
// knows, refusing one that inflates to more than maxStreamBytes or a
// document whose streams together exceed its inflate budget. A document that passes is known to be bounded for the
// later in-process parses (signing, attachments) as well. Objects inside
// object streams were checked by lexCheck after one bounded inflation of
// their stream; resolving each of them here would inflate the stream once
// per object.
func walkObjects(ctx context.Context, r *pdf.Reader, size int64, budget *inflateBudget) error {
	xs := r.Xref()
	if len(xs) > maxPDFObjects+1 {
		return fmt.Errorf("%w: more than %d objects", ErrPDFMalformed, maxPDFObjects)
	}
	for id := range xs {
		if id == 0 || !isZero(xs[id].Stream()) {
			continue
		}
		if id%1024 == 0 && ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ErrPDFMalformed, ctx.Err())
		}
		v, err := r.GetObject(uint32(id))
		if err != nil || v.Kind() != pdf.Stream {
			continue
		}
		if l := v.Key("Length"); l.Kind() != pdf.Integer || l.Int64() < 0 || l.Int64() > size {
			return fmt.Errorf("%w: object %d: stream /Length is not an integer within the file", ErrPDFMalformed, id)
		}
		if !inflatable(v) {
			continue
		}
		n, _ := io.Copy(io.Discard, io.LimitReader(v.Reader(), maxStreamBytes+1))
		if n > maxStreamBytes {
			return fmt.Errorf("%w: object %d: a stream inflates to more than %d bytes", ErrPDFMalformed, id, maxStreamBytes)
		}
		if err := budget.spend(n); err != nil {
			return err
		}
	}
	return nil
}

// inflatable: every filter of stream v is one digitorus/pdf decodes.
func inflatable(v pdf.Value) bool {
	f := v.Key("Filter")
	switch f.Kind() {
	case pdf.Null:
		return true
	case pdf.Name:
		return knownFilter(f.Name())
	case pdf.Array:
		if f.Len() > 4 {
			return false
		}
		for i := 0; i < f.Len(); i++ {
			if !knownFilter(f.Index(i).Name()) {
				return false
			}
		}
		return true
	}
	return false
}

func knownFilter(name string) bool {
	switch name {
	case "FlateDecode", "ASCIIHexDecode", "ASCII85Decode":
		return true
	}
	return false
}

func isZero[T comparable](v T) bool {
	var zero T
	return v == zero
}
