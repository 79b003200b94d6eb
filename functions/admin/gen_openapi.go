//go:build ignore

// gen_openapi writes openapi.json.gz, the compressed copy of openapi.json
// that the admin function embeds (a fifth of its size in the binary). Run
// `go generate ./functions/admin` after editing openapi.json;
// TestOpenAPICompressedCopy fails until then.
package main

import (
	"compress/gzip"
	"fmt"
	"os"
)

func main() {
	doc, err := os.ReadFile("openapi.json")
	if err != nil {
		fail(err)
	}
	f, err := os.Create("openapi.json.gz")
	if err != nil {
		fail(err)
	}
	z, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	if _, err := z.Write(doc); err != nil {
		fail(err)
	}
	if err := z.Close(); err != nil {
		fail(err)
	}
	if err := f.Close(); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gen_openapi:", err)
	os.Exit(1)
}
