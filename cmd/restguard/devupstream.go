package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/restguard/restguard/assertion"
	"github.com/restguard/restguard/envoy"
	"github.com/restguard/restguard/internal/standin"
)

// writeDevKey writes a throw-away Ed25519 signing key for the demo's
// identity assertions.
func writeDevKey(path string) error {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// startStandin runs the stand-in upstream on loopback until ctx ends and
// returns it with its base URL (the assertion audience).
func startStandin(ctx context.Context, dir string) (*standin.Upstream, string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	url := "http://" + l.Addr().String()
	v, err := assertion.NewVerifier(assertion.VerifierConfig{Issuer: "restguard-dev", Audience: url})
	if err != nil {
		l.Close()
		return nil, "", err
	}
	up := standin.New(v)
	srv := &http.Server{Handler: up, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return up, url, nil
}

// forwardToStandin sends the demo request on to the stand-in upstream as
// Envoy would after an allow: the client's headers, minus the removals,
// with the answer's headers set.
func forwardToStandin(upstream string, in envoy.CheckInput, res envoy.Result) (standin.Answer, error) {
	req, err := http.NewRequest(http.MethodGet, upstream+in.Path, nil)
	if err != nil {
		return standin.Answer{}, err
	}
	for _, h := range in.Headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	for _, name := range res.Remove {
		req.Header.Del(name)
	}
	for _, h := range res.Headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Set(name, value)
	}
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return standin.Answer{}, err
	}
	defer resp.Body.Close()
	var a standin.Answer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&a); err != nil {
		return standin.Answer{}, errors.Join(errors.New("unreadable answer"), err)
	}
	if resp.StatusCode != http.StatusOK && a.Refused == "" {
		return a, fmt.Errorf("status %d", resp.StatusCode)
	}
	return a, nil
}
