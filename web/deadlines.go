package web

import (
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// The public server (node) has read, write and idle timeouts
// (http.read_timeout, http.write_timeout, http.idle_timeout). Three kinds
// of request live by other rules:
//   - WebSockets: clearDeadlines before the upgrade; the signaling hub's
//     ping/pong deadlines take over.
//   - Uploads of files and PDFs (transferRoutes): the read timeout is a head
//     start, after which the body must keep arriving at
//     http.min_transfer_rate on average; the response may be written up to
//     the write timeout after the last byte read.
//   - Downloads of files, PDFs and static files: the same for writing.

// transfer says which directions of a route may take longer than the
// server's timeouts.
type transfer struct{ upload, download bool }

// transferRoutes are the routes that move files ("METHOD pattern").
var transferRoutes = map[string]transfer{
	"PUT /api/v1/consultations/:id/files/:fileId":                 {upload: true},
	"GET /api/v1/consultations/:id/files/:fileId":                 {download: true},
	"POST /api/v1/consultations/:id/documents":                    {upload: true},
	"GET /api/v1/consultations/:id/documents/:docId/pdf":          {download: true},
	"HEAD /api/v1/consultations/:id/documents/:docId/pdf":         {download: true},
	"GET /api/v1/contracts/:docId/pdf":                            {download: true},
	"POST /api/v1/consultations/:id/documents/:docId/sign/:field": {upload: true}, // pen data, up to 1 MiB from a phone
	"POST /api/v1/verify":                                         {upload: true},
	"GET /static/*filepath":                                       {download: true},
	"HEAD /static/*filepath":                                      {download: true},
	"GET /api/v1/consultations/:id/my-data":                       {download: true},
	"GET /api/v1/my-data":                                         {download: true},
	"GET /api/v1/admin/data-subjects/:cid/:pid":                   {download: true},
}

// transferDeadlines lets the transfer routes run past the server's read
// and write timeouts while they keep up http.min_transfer_rate.
func (s *Server) transferDeadlines(c *gin.Context) {
	t, ok := transferRoutes[c.Request.Method+" "+c.FullPath()]
	if !ok {
		c.Next()
		return
	}
	rc := http.NewResponseController(c.Writer)
	now := time.Now()
	rate := s.cfg.HTTP.MinTransferRate
	if t.upload && c.Request.Body != nil && c.Request.Body != http.NoBody {
		c.Request.Body = &rateReader{ReadCloser: c.Request.Body, rc: rc, start: now,
			grace: s.cfg.HTTP.ReadTimeout, write: s.cfg.HTTP.WriteTimeout, rate: rate}
	}
	if t.download {
		c.Writer = &rateWriter{ResponseWriter: c.Writer, rc: rc, start: now,
			grace: s.cfg.HTTP.WriteTimeout, rate: rate}
	}
	c.Next()
}

// atRate is how long n bytes take at rate bytes per second.
func atRate(n, rate int64) time.Duration {
	return time.Duration(float64(n) / float64(rate) * float64(time.Second))
}

// transferChunk is the most one Read is credited in advance (its buffer
// may be far larger than what is coming).
const transferChunk = 32 << 10

// rateReader moves the connection's read deadline along while a body
// arrives: grace after the start plus the time the bytes read so far (and
// the next chunk) take at rate. A body that falls behind is cut.
type rateReader struct {
	io.ReadCloser
	rc           *http.ResponseController
	start        time.Time
	grace, write time.Duration
	rate, read   int64
}

func (r *rateReader) Read(p []byte) (int, error) {
	next := min(int64(len(p)), transferChunk)
	deadline := r.start.Add(r.grace + atRate(r.read+next, r.rate))
	_ = r.rc.SetReadDeadline(deadline)
	// The answer comes after the body: it may be written up to the
	// write timeout after the last byte.
	_ = r.rc.SetWriteDeadline(deadline.Add(r.write))
	n, err := r.ReadCloser.Read(p)
	r.read += int64(n)
	return n, err
}

// rateWriter moves the connection's write deadline along while a
// response is written, the same way.
type rateWriter struct {
	gin.ResponseWriter
	rc            *http.ResponseController
	start         time.Time
	grace         time.Duration
	rate, written int64 // bytes per second; bytes written
}

func (w *rateWriter) extend(next int) {
	_ = w.rc.SetWriteDeadline(w.start.Add(w.grace + atRate(w.written+int64(next), w.rate)))
}

func (w *rateWriter) Write(p []byte) (int, error) {
	w.extend(len(p))
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

func (w *rateWriter) WriteString(s string) (int, error) {
	w.extend(len(s))
	n, err := w.ResponseWriter.WriteString(s)
	w.written += int64(n)
	return n, err
}

// clearDeadlines lifts the server's read and write deadlines from a
// request's connection before it becomes a WebSocket, which keeps its
// own ping/pong deadlines.
func clearDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
}
