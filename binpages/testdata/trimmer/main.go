// Command trimmer calls binpages.Trim and then runs code and reads data
// from every part of its binary, for TestTrimPIE.
package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/parley-video/parley/binpages"
)

type thing struct {
	Name string
	N    int
}

func main() {
	n, err := binpages.Trim()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Type descriptors, interface tables, function tables and code,
	// after the trim.
	var v any = thing{"a", 1}
	words := strings.Fields("the quick brown fox jumps over the lazy dog")
	sort.Strings(words)
	sum := sha256.Sum256([]byte(strings.Join(words, " ")))
	fmt.Printf("%d %s %x %v\n", n, reflect.TypeOf(v).Name(), sum[:4], v)
}
