package binpages

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestCleanRegions(t *testing.T) {
	const exe = "/opt/parley dir/parley"
	smaps := `00400000-01d0c000 r-xp 00000000 fe:00 10158983                           /opt/parley dir/parley
Size:              25648 kB
Rss:               14960 kB
Anonymous:             0 kB
01d0c000-039ce000 r--p 0190c000 fe:00 10158983                           /opt/parley dir/parley
Rss:               18120 kB
Anonymous:             0 kB
039ce000-03ac0000 rw-p 035ce000 fe:00 10158983                           /opt/parley dir/parley
Anonymous:           904 kB
03ac0000-03ad0000 r--p 036c0000 fe:00 10158983                           /opt/parley dir/parley
Anonymous:             8 kB
7fd5c1a2f000-7fd5c1b85000 r-xp 00026000 fe:00 326269                     /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
7fd5c1c00000-7fd5c1c10000 r--s 00000000 fe:00 10158983                   /opt/parley dir/parley
Anonymous:             0 kB
7fd5c1d00000-7fd5c1d10000 r--p 00000000 fe:00 10158983                   /opt/parley dir/parley
Anonymous:             0 kB
`
	got, err := cleanRegions([]byte(smaps), exe)
	if err != nil {
		t.Fatal(err)
	}
	want := []region{{0x400000, 0x1d0c000}, {0x1d0c000, 0x39ce000}, {0x7fd5c1d00000, 0x7fd5c1d10000}}
	if len(got) != len(want) {
		t.Fatalf("got %x, want %x", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("region %d: %x, want %x", i, got[i], want[i])
		}
	}
	if _, err := cleanRegions([]byte("zz-01 r--p 0 fe:00 1 "+exe+"\n"), exe); err == nil {
		t.Error("an unreadable mapping passed")
	}
}

// exeRSS is the resident size, in KiB, of the mappings of this test
// binary that Trim may drop.
func exeRSS(t *testing.T) int {
	t.Helper()
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	regions, err := cleanRegions(smaps, exe)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	var in bool
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if !strings.HasSuffix(f[0], ":") {
			in = false
			lo, _, _ := strings.Cut(f[0], "-")
			start, _ := strconv.ParseUint(lo, 16, 64)
			for _, r := range regions {
				in = in || uintptr(start) == r.start
			}
			continue
		}
		if in && f[0] == "Rss:" {
			kb, _ := strconv.Atoi(f[1])
			total += kb
		}
	}
	return total
}

// TestTrimDropsPages: after Trim, fewer of the binary's pages are resident
// than before, and the program goes on running.
func TestTrimDropsPages(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	before := exeRSS(t)
	n, err := Trim()
	if err != nil {
		t.Fatal(err)
	}
	after := exeRSS(t)
	t.Logf("trimmed %d MiB of mappings; binary resident before %d KiB, after %d KiB", n>>20, before, after)
	if n <= 0 || after >= before {
		t.Fatalf("trimmed %d bytes; resident %d KiB before, %d KiB after", n, before, after)
	}
	if s := strings.Repeat("ab", 3); s != "ababab" {
		t.Fatal(s)
	}
}

// TestTrimPIE: a position-independent binary, whose read-only data the
// loader wrote relocations into, keeps working after Trim (those pages are
// not dropped), and so does an ordinary one.
func TestTrimPIE(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	for _, mode := range []string{"pie", "exe"} {
		bin := filepath.Join(t.TempDir(), "trimmer")
		build := exec.Command("go", "build", "-buildmode="+mode, "-o", bin, "./testdata/trimmer")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", mode, err, out)
		}
		out, err := exec.Command(bin).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, out)
		}
		f := strings.Fields(string(out))
		if len(f) != 5 || f[0] == "0" || f[1] != "thing" || f[2] != "5a6b00be" || f[3] != "{a" || f[4] != "1}" {
			t.Errorf("%s: %s", mode, out)
		}
	}
}
