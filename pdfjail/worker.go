package pdfjail

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"golang.org/x/sys/unix"

	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/signature"
)

// The wire protocol between Runner and worker (one request per child):
// stdin is a request as one JSON line followed by PDFLength bytes of PDF;
// stdout is one response as JSON.

const (
	opIntake = "intake"
	opVerify = "verify"
)

type request struct {
	Op        string                    `json:"op"`
	PDFLength int64                     `json:"pdfLength"`
	MaxBytes  int64                     `json:"maxBytes,omitempty"` // intake
	Verifier  *contracts.VerifierConfig `json:"verifier,omitempty"` // verify
	// Limits the worker sets on itself before it reads the PDF.
	MemoryBytes int64 `json:"memoryBytes"`
	CPUSeconds  int64 `json:"cpuSeconds"`
}

type response struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *workError      `json:"error,omitempty"`
}

// workError is an error of the work itself (a malformed PDF, …), which
// the parent turns back into the same sentinel errors.
type workError struct {
	Kind    string `json:"kind"` // "too_large", "malformed", "encrypted", "other"
	Message string `json:"message"`
}

func kindOf(err error) string {
	switch {
	case errors.Is(err, signature.ErrPDFTooLarge):
		return "too_large"
	case errors.Is(err, signature.ErrPDFEncrypted):
		return "encrypted"
	case errors.Is(err, signature.ErrPDFMalformed):
		return "malformed"
	}
	return "other"
}

// err rebuilds the error in the parent.
func (w *workError) err(op string) error {
	var is []error
	switch w.Kind {
	case "too_large":
		is = append(is, signature.ErrPDFTooLarge)
	case "encrypted":
		is = append(is, signature.ErrPDFEncrypted)
	case "malformed":
		is = append(is, signature.ErrPDFMalformed)
	}
	if op == opVerify {
		is = append(is, contracts.ErrCannotCheck)
	}
	return &remoteError{msg: w.Message, is: is}
}

type remoteError struct {
	msg string
	is  []error
}

func (e *remoteError) Error() string   { return e.msg }
func (e *remoteError) Unwrap() []error { return e.is }

// maxHeaderBytes bounds the request line (certificates, keys).
const maxHeaderBytes = 4 << 20

// ServeWorker serves one request from stdin to stdout: it sets its memory
// and CPU limits first, then reads the PDF and does the work. It returns
// the process exit status (0 also when the work found the PDF bad: that
// is in the answer).
func ServeWorker(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) int {
	br := bufio.NewReaderSize(io.LimitReader(stdin, maxHeaderBytes), 64<<10)
	line, err := br.ReadSlice('\n')
	for errors.Is(err, bufio.ErrBufferFull) {
		var more []byte
		more, err = br.ReadSlice('\n')
		line = append(line, more...)
	}
	if err != nil {
		fmt.Fprintln(stderr, "pdf worker: read request:", err)
		return 2
	}
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		fmt.Fprintln(stderr, "pdf worker: decode request:", err)
		return 2
	}
	if err := setLimits(req.MemoryBytes, req.CPUSeconds); err != nil {
		fmt.Fprintln(stderr, "pdf worker: set limits:", err)
		return 2
	}
	if req.PDFLength < 0 {
		fmt.Fprintln(stderr, "pdf worker: bad PDF length", req.PDFLength)
		return 2
	}
	pdf := make([]byte, req.PDFLength)
	// What br buffered beyond the line is the PDF's start.
	rest := io.MultiReader(br, stdin)
	if _, err := io.ReadFull(rest, pdf); err != nil {
		fmt.Fprintln(stderr, "pdf worker: read PDF:", err)
		return 2
	}
	result, werr := work(ctx, req, pdf)
	var res response
	if werr != nil {
		res.Error = &workError{Kind: kindOf(werr), Message: werr.Error()}
	} else if res.Result, err = json.Marshal(result); err != nil {
		fmt.Fprintln(stderr, "pdf worker: encode result:", err)
		return 2
	}
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		fmt.Fprintln(stderr, "pdf worker: write result:", err)
		return 2
	}
	return 0
}

func work(ctx context.Context, req request, pdf []byte) (any, error) {
	switch req.Op {
	case opIntake:
		return signature.LoadPDF(pdf, req.MaxBytes)
	case opVerify:
		if req.Verifier == nil {
			return nil, errors.New("verify without a verifier configuration")
		}
		v, err := contracts.NewVerifierFromConfig(*req.Verifier)
		if err != nil {
			return nil, err
		}
		return v.Verify(ctx, pdf)
	}
	return nil, fmt.Errorf("unknown op %q", req.Op)
}

// setLimits caps the worker's memory and CPU. RLIMIT_AS can't be used: the
// Go runtime reserves more address space than it uses and fails at once
// under any useful limit (tried: 64 MiB to 1 GiB); RLIMIT_DATA counts what
// it really maps, and the runtime fails with "out of memory" past it.
func setLimits(memoryBytes, cpuSeconds int64) error {
	if memoryBytes > 0 {
		debug.SetMemoryLimit(memoryBytes / 4 * 3)
		lim := uint64(memoryBytes) * raceMemoryFactor
		if err := unix.Setrlimit(unix.RLIMIT_DATA, &unix.Rlimit{Cur: lim, Max: lim}); err != nil {
			return fmt.Errorf("RLIMIT_DATA: %w", err)
		}
	}
	if cpuSeconds > 0 {
		lim := uint64(cpuSeconds)
		if err := unix.Setrlimit(unix.RLIMIT_CPU, &unix.Rlimit{Cur: lim, Max: lim + 1}); err != nil {
			return fmt.Errorf("RLIMIT_CPU: %w", err)
		}
	}
	return nil
}
