package node

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/parley-video/parley/blobs/s3test"
	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signature"
)

// s3Config is testConfig with files and documents in a fresh bucket on the
// test S3 server, under the prefix "parley/".
func s3Config(t *testing.T) (config.Config, *minio.Client, string) {
	t.Helper()
	o, c := s3test.Bucket(t)
	cfg := testConfig(t)
	cfg.Storage.Backend = config.StorageS3
	cfg.Storage.S3 = config.S3Config{Endpoint: o.Endpoint, Bucket: o.Bucket, Region: o.Region, Prefix: "parley/",
		AccessKeyID: o.AccessKeyID, SecretAccessKey: o.SecretAccessKey, UseTLS: false, PathStyle: true}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg, c, o.Bucket
}

// TestRetentionDeletesFromTheBucket: with storage.backend s3, a call's
// files and its unsigned documents land in the bucket (encrypted, nothing
// on the local disk); when the consultation has ended and the files'
// period is over, the sweeper leaves nothing of that consultation in the
// bucket but the signed contract, and when the contracts' period is over,
// nothing at all.
func TestRetentionDeletesFromTheBucket(t *testing.T) {
	cfg, bucket, name := s3Config(t)
	cfg.Retention.Files = config.Period(2 * config.Day)
	cfg.Retention.Contracts = config.Period(20 * config.Day)
	cfg.Consultation.MaxDuration = 100 * 24 * time.Hour
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: t0}
	ctx := context.Background()
	n, err := New(ctx, cfg, slog.New(slog.DiscardHandler), WithClock(clock.now))
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	defer n.Close(ctx)

	adv, err := n.Records.CreateUser(ctx, "anna", "Anna Advisor", records.RoleAdvisor, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	var cids [3]string // 0: signed contract, 1: unsigned document, 2: still running
	for i := range cids {
		con, _, err := n.Records.CreateConsultation(ctx, adv.ID, "Beratung", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		cids[i] = con.ID
		for _, fid := range []string{"0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"} {
			if _, err := n.files.Put(ctx, con.ID, fid, "participant:p1", bytes.NewReader([]byte("PLAIN-FILE "+con.ID))); err != nil {
				t.Fatal(err)
			}
		}
	}
	pdf, err := signature.ContractPDF(signature.ContractTemplate{Title: "Vertrag"})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := n.Contracts.Present(ctx, contracts.Presentation{ConsultationID: cids[0], Name: "vertrag.pdf", PDF: pdf,
		Signers: []string{"customer"}, CreatedBy: adv.ID, Actor: "staff:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Records.RecordSignature(ctx, doc.ID, records.Signing{Field: "customer", Blob: doc.CurrentBlob, Size: doc.Size,
		SHA256: doc.SHA256, SignerName: "Erika Mustermann", SignerRef: "participant:p1", Actor: "participant:p1", At: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Contracts.Present(ctx, contracts.Presentation{ConsultationID: cids[1], Name: "angebot.pdf", PDF: pdf,
		Signers: []string{"customer"}, CreatedBy: adv.ID, Actor: "staff:1"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range cids[:2] {
		if _, err := n.Records.EndConsultation(ctx, id); err != nil {
			t.Fatal(err)
		}
	}

	of := func(cid string) []string { // what the bucket holds of cid
		var out []string
		for _, k := range s3test.Keys(t, bucket, name, "parley/") {
			if strings.Contains(k, "/"+cid+"/") {
				out = append(out, k)
			}
		}
		return out
	}
	signedKey := "parley/documents/" + cids[0] + "/" + doc.CurrentBlob
	if got := of(cids[0]); len(got) != 3 || !slices.Contains(got, signedKey) {
		t.Fatalf("bucket before the sweep, consultation 0: %v", got)
	}
	if got := of(cids[1]); len(got) != 3 {
		t.Fatalf("bucket before the sweep, consultation 1: %v", got)
	}
	// Only ciphertext went there.
	for _, k := range s3test.Keys(t, bucket, name, "") {
		o, err := bucket.GetObject(ctx, name, k, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(o)
		o.Close()
		if err != nil || !bytes.HasPrefix(raw, []byte("PRLYBLOB")) || bytes.Contains(raw, []byte("PLAIN-FILE")) || bytes.Contains(raw, []byte("%PDF")) {
			t.Fatalf("object %s is not the encrypted format (%v)", k, err)
		}
	}

	// The files' period is over: the sweeper runs.
	clock.set(t0.Add(2 * config.Day))
	if _, err := n.Retention.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := of(cids[0]); !slices.Equal(got, []string{signedKey}) {
		t.Errorf("after the files' period, consultation 0 left %v, want only the signed contract %s", got, signedKey)
	}
	if got := of(cids[1]); len(got) != 0 {
		t.Errorf("after the files' period, consultation 1 left %v in the bucket", got)
	}
	if got := of(cids[2]); len(got) != 2 {
		t.Errorf("the running consultation's files: %v", got)
	}
	// The signed contract still opens.
	if f, _, err := n.docs.Open(cids[0], doc.CurrentBlob); err != nil {
		t.Fatalf("signed contract after the sweep: %v", err)
	} else {
		f.Close()
	}

	// The contracts' period is over: nothing of consultation 0 is left.
	clock.set(t0.Add(20 * config.Day))
	if _, err := n.Retention.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := of(cids[0]); len(got) != 0 {
		t.Errorf("after the contracts' period, consultation 0 left %v in the bucket", got)
	}
}
