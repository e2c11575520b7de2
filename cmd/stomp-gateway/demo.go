package main

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed demo
var demoFiles embed.FS

// demoHandler serves the demo page: a minimal STOMP client in plain
// JavaScript, so it works without fetching anything from the internet.
func demoHandler() http.Handler {
	sub, _ := fs.Sub(demoFiles, "demo")
	return http.FileServer(http.FS(sub))
}
