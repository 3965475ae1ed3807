// A Go HTTP server as Go services ship on a scratch image: one static binary and nothing else. The e2e
// suite syncs edits of this file into it with `kindling sync --restart --language go`.
package main

import (
	"fmt"
	"log"
	"net/http"
)

const message = "scratch-go v0"

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, message) })
	log.Fatal(http.ListenAndServe(":8080", nil))
}
