package binpages

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Trim drops the read-only mappings of the running executable from the
// resident set. It returns how many bytes of mappings it dropped (not how
// many of them were resident).
func Trim() (int64, error) {
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("binpages: %w", err)
	}
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("binpages: %w", err)
	}
	regions, err := cleanRegions(smaps, exe)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, r := range regions {
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, r.start, r.end-r.start, syscall.MADV_DONTNEED); errno != 0 {
			return total, fmt.Errorf("binpages: madvise %#x-%#x: %w", r.start, r.end, errno)
		}
		total += int64(r.end - r.start)
	}
	return total, nil
}

// region is one mapping, [start, end).
type region struct{ start, end uintptr }

// cleanRegions returns the mappings of the file exe in a /proc/PID/smaps
// listing that dropping loses nothing of: private, not writable, and
// without a page of their own ("Anonymous: 0 kB"; a position-independent
// binary's relocated read-only data has some, and so has code a debugger
// set breakpoints in).
func cleanRegions(smaps []byte, exe string) ([]region, error) {
	var out []region
	var cur *region // the mapping whose fields are being read, if a candidate
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if !strings.HasSuffix(f[0], ":") { // a mapping's first line
			if cur != nil {
				out = append(out, *cur)
				cur = nil
			}
			r, ok, err := candidate(f, exe)
			if err != nil {
				return nil, err
			}
			if ok {
				cur = &r
			}
			continue
		}
		if cur != nil && f[0] == "Anonymous:" && (len(f) < 2 || f[1] != "0") {
			cur = nil // has pages of its own: keep it
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("binpages: %w", err)
	}
	return out, nil
}

// candidate reads a mapping's first line ("start-end perms offset dev
// inode path"): whether it is a private, read-only mapping of exe.
func candidate(f []string, exe string) (region, bool, error) {
	if len(f) < 6 || strings.Join(f[5:], " ") != exe {
		return region{}, false, nil
	}
	perms := f[1]
	if len(perms) != 4 || perms[0] != 'r' || perms[1] != '-' || perms[3] != 'p' {
		return region{}, false, nil // writable or shared: never dropped
	}
	lo, hi, ok := strings.Cut(f[0], "-")
	start, err1 := strconv.ParseUint(lo, 16, 64)
	end, err2 := strconv.ParseUint(hi, 16, 64)
	if !ok || err1 != nil || err2 != nil || end <= start {
		return region{}, false, fmt.Errorf("binpages: unreadable mapping %q", f[0])
	}
	return region{uintptr(start), uintptr(end)}, true, nil
}
