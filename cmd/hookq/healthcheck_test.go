package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHealthcheckExitsByStatus(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	if err := Run(t.Context(), []string{"healthcheck", "--url", srv.URL}, io.Discard, io.Discard); err != nil {
		t.Fatalf("200: %v", err)
	}
	status = http.StatusServiceUnavailable
	if err := Run(t.Context(), []string{"healthcheck", "--url", srv.URL}, io.Discard, io.Discard); err == nil {
		t.Fatal("503 passed the healthcheck")
	}
	if err := Run(t.Context(), []string{"healthcheck", "--url", "http://127.0.0.1:1"}, io.Discard, io.Discard); err == nil {
		t.Fatal("no listener passed the healthcheck")
	}
}
