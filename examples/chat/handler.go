package chat

import (
	"net/http"
	"os"
	"path/filepath"
)

// Handler serves the chat page from dir (the examples/chat folder):
// web/ at the root, and the @stomp/stompjs bundle that npm installed into
// dir/node_modules at /vendor/stomp.umd.min.js, so the page runs the real
// client without fetching anything from the internet.
func Handler(dir string) http.Handler {
	mux := http.NewServeMux()
	bundle := filepath.Join(dir, "node_modules", "@stomp", "stompjs", "bundles", "stomp.umd.min.js")
	mux.HandleFunc("/vendor/stomp.umd.min.js", func(w http.ResponseWriter, r *http.Request) {
		if _, err := os.Stat(bundle); err != nil {
			http.Error(w, "@stomp/stompjs is not installed: run `make run` (it runs npm ci in examples/chat)", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeFile(w, r, bundle)
	})
	mux.Handle("/", http.FileServer(http.Dir(filepath.Join(dir, "web"))))
	return mux
}
