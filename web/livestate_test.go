package web

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
	"github.com/parley-video/parley/signature"
)

// heapAfterGC is the live heap after two collections.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestUnknownDocumentsLeaveNoState: 10,000 signing requests of a joined
// customer for documents that do not exist leave the heap where it was.
// The per-document lock map used to keep an entry (with the requested id)
// for each: 10,000 × 4 KiB ids ≈ 40 MiB that were never freed.
func TestUnknownDocumentsLeaveNoState(t *testing.T) {
	e := newEnv(t)
	withSigner(t, e)
	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	id, _ := e.createConsultation(adv, "Leak")
	cu := e.customer(id, "cookie-joined", "p_cu", signaling.StateJoined)
	capture, err := signature.ExampleCapture().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	origin := []string{"Origin", e.ts.URL}
	base := "/api/v1/consultations/" + id + "/documents/"
	pad := strings.Repeat("x", 4096)
	send := func(i int) {
		t.Helper()
		docID := "d_" + pad + "_" + string(rune('a'+i%26)) + strings.Repeat("y", i%97) + "_" + strconv.Itoa(i)
		r := e.do(cu, "POST", base+docID+"/sign/customer", string(capture), origin...)
		if r.StatusCode != http.StatusNotFound {
			t.Fatalf("sign unknown document: %d %s", r.StatusCode, r.body)
		}
	}
	for i := range 200 { // warm up pools, connections, statement caches
		send(i)
	}
	before := heapAfterGC()
	const n = 10000
	for i := range n {
		send(1000 + i)
	}
	after := heapAfterGC()
	growth := int64(after) - int64(before)
	t.Logf("heap before %d KiB, after %d requests %d KiB (growth %d KiB)", before>>10, n, after>>10, growth>>10)
	// Tolerance 8 MiB: allocator and pool noise, well under the ≈ 40 MiB
	// the ids alone would take if anything kept them.
	if growth > 8<<20 {
		t.Fatalf("heap grew by %d KiB over %d requests for unknown documents", growth>>10, n)
	}
}
