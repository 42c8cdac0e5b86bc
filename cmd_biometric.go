package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/signature"
)

const biometricUsage = `Usage: parley biometric open --escrow-key KEY [--png-dir DIR] [--json] contract.pdf

The escrow holder's offline tool. Decrypts the biometric signature data
sealed into a signed contract, checks that it belongs to exactly this
document (the envelope is bound to the SHA-256 of the document as it was
presented to the signer), prints the handwriting features and renders each
signature's strokes to a PNG (DIR/<file>-<field>.png, default next to the
PDF). The raw pen data is printed only with --json.
`

// biometricCmd runs "parley biometric".
func biometricCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "open" {
		fmt.Fprint(stderr, biometricUsage)
		return errors.New("biometric: expected the subcommand open")
	}
	fs := flag.NewFlagSet("parley biometric open", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, biometricUsage) }
	keyFile := fs.String("escrow-key", "", "the escrow private key (PEM)")
	pngDir := fs.String("png-dir", "", "where to write the stroke renderings (default: next to the PDF)")
	asJSON := fs.Bool("json", false, "print the decrypted records as JSON (includes the raw pen data)")
	var positional []string
	for rest := args[1:]; ; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if *keyFile == "" || len(positional) != 1 {
		fs.Usage()
		return errors.New("biometric open: need --escrow-key and one PDF")
	}
	kb, err := os.ReadFile(*keyFile)
	if err != nil {
		return fmt.Errorf("biometric open: %w", err)
	}
	key, err := signature.ParseEscrowPrivateKey(kb)
	if err != nil {
		return fmt.Errorf("biometric open: %s: %w", *keyFile, err)
	}
	pdfPath := positional[0]
	pdf, err := os.ReadFile(pdfPath)
	if err != nil {
		return fmt.Errorf("biometric open: %w", err)
	}
	opened, openErr := contracts.OpenEnvelopes(pdf, key)
	if *asJSON {
		recs := make([]*signature.BiometricRecord, len(opened))
		for i, o := range opened {
			recs[i] = o.Record
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(recs); err != nil {
			return err
		}
	}
	dir := *pngDir
	if dir == "" {
		dir = filepath.Dir(pdfPath)
	}
	base := strings.TrimSuffix(filepath.Base(pdfPath), filepath.Ext(pdfPath))
	for _, o := range opened {
		r := o.Record
		png, err := signature.RenderPNG(r.Capture, signature.RenderOptions{MaxWidth: 1200, MaxHeight: 480})
		if err != nil {
			return fmt.Errorf("biometric open: render %s: %w", r.Field, err)
		}
		out := filepath.Join(dir, base+"-"+r.Field+".png")
		if err := os.WriteFile(out, png, 0o600); err != nil {
			return fmt.Errorf("biometric open: %w", err)
		}
		if *asJSON {
			continue
		}
		f := r.Features
		fmt.Fprintf(stdout, "field %s: signed by %q at %s\n", r.Field, r.SignerName, r.SignedAt.Format("2006-01-02 15:04:05 MST"))
		fmt.Fprintf(stdout, "  bound to this document: yes (first %d bytes, SHA-256 %s), consultation %s\n",
			o.Binding.DocumentLength, o.Binding.DocumentSHA256, r.ConsultationID)
		fmt.Fprintf(stdout, "  sealed to escrow key %s\n", o.Envelope.Recipient)
		fmt.Fprintf(stdout, "  strokes %d, points %d, duration %.0f ms, pen down %.0f ms, pen up %.0f ms\n",
			f.StrokeCount, f.PointCount, f.DurationMS, f.PenDownMS, f.PenUpMS)
		fmt.Fprintf(stdout, "  pauses %d (%.0f ms), speed mean %.0f px/s, max %.0f px/s\n",
			f.Pauses.Count, f.Pauses.TotalMS, f.Speed.MeanPxS, f.Speed.MaxPxS)
		fmt.Fprintf(stdout, "  pointer %s, canvas %.0fx%.0f at %.2gx, captured from %s\n",
			r.Capture.Pointer, r.Capture.Canvas.W, r.Capture.Canvas.H, r.Capture.Canvas.DPR, r.Capture.StartedAt.Format("2006-01-02 15:04:05.000 MST"))
		fmt.Fprintf(stdout, "  strokes rendered to %s\n", out)
	}
	if openErr != nil {
		return fmt.Errorf("biometric open: %w", openErr)
	}
	return nil
}
