// Command hostilepdf writes the hostile-PDF corpus (package hostilepdf)
// into a directory: go run ./scripts/hostilepdf DIR
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/parley-video/parley/hostilepdf"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: hostilepdf DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, c := range hostilepdf.Corpus() {
		p := filepath.Join(dir, c.Name+".pdf")
		if err := os.WriteFile(p, c.PDF, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%-32s %9d bytes  %s\n", c.Name, len(c.PDF), c.Attacks)
	}
}
