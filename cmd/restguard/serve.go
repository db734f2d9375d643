package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/authz/config"
	"github.com/restguard/restguard/envoy"
)

const (
	startupRefreshTimeout = 10 * time.Second
	shutdownGrace         = 10 * time.Second
	readinessPoll         = time.Second
)

func runServe(args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: restguard serve -config FILE")
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	logger := newLogger(cfg.Log, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	svc := newService(logger)
	rt, err := config.Build(cfg, config.BuildOptions{Logger: logger})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	svc.install(ctx, rt)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				svc.reload(ctx, *path)
			}
		}
	}()

	if err := svc.run(ctx, or(cfg.Listen.GRPC, config.DefaultGRPCListen), or(cfg.Listen.Admin, config.DefaultAdminListen)); err != nil {
		logger.Error("restguard stopped", "error", err)
		return 1
	}
	return 0
}

// service owns the listeners, the current engine and the providers of the
// current runtime.
type service struct {
	log    *slog.Logger
	engine atomic.Pointer[authz.Engine]
	ready  atomic.Bool
	authz  *envoy.Server

	mu     sync.Mutex // guards cancel
	cancel context.CancelFunc
	// onReady, if set, is closed once the first engine is ready (dev mode).
	onReady chan struct{}
	once    sync.Once
}

func newService(logger *slog.Logger) *service {
	s := &service{log: logger}
	s.authz = envoy.NewServer(s.engine.Load, logger.With("component", "envoy"))
	return s
}

// install starts rt's providers, fetches their keys, and swaps its engine
// in. The previous runtime's background work is cancelled.
func (s *service) install(ctx context.Context, rt *config.Runtime) {
	rctx, cancel := context.WithCancel(ctx)
	rt.Start(rctx)
	refreshCtx, done := context.WithTimeout(rctx, startupRefreshTimeout)
	if err := rt.Refresh(refreshCtx); err != nil {
		// Not fatal: tokens of this provider get 503 until its keys load,
		// and readiness stays false meanwhile.
		s.log.Warn("provider keys not loaded yet; retrying in the background", "error", err)
	}
	done()
	s.engine.Store(rt.Engine)
	s.mu.Lock()
	old := s.cancel
	s.cancel = cancel
	s.mu.Unlock()
	if old != nil {
		old()
	}
	go s.watchReady(rctx, rt)
}

// watchReady marks the service ready once rt's providers have keys.
func (s *service) watchReady(ctx context.Context, rt *config.Runtime) {
	t := time.NewTicker(readinessPoll)
	defer t.Stop()
	for {
		if rt.Ready() {
			if !s.ready.Swap(true) {
				s.log.Info("restguard ready")
			}
			s.authz.SetServing(true)
			s.once.Do(func() {
				if s.onReady != nil {
					close(s.onReady)
				}
			})
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reload builds a new engine from path; a failure keeps the current one.
func (s *service) reload(ctx context.Context, path string) {
	cfg, err := config.Load(path)
	var rt *config.Runtime
	if err == nil {
		rt, err = config.Build(cfg, config.BuildOptions{Logger: s.log})
	}
	if err != nil {
		s.log.Error("configuration reload failed; keeping the running configuration", "error", err)
		return
	}
	s.install(ctx, rt)
	s.log.Info("configuration reloaded", "file", path)
}

// run serves gRPC and the admin endpoints until ctx ends, then shuts down
// gracefully. Listener errors at startup are fatal.
func (s *service) run(ctx context.Context, grpcAddr, adminAddr string) error {
	gl, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		return fmt.Errorf("grpc listener: %w", err)
	}
	al, err := net.Listen("tcp", adminAddr)
	if err != nil {
		gl.Close()
		return fmt.Errorf("admin listener: %w", err)
	}
	return s.serve(ctx, gl, al)
}

// serve is run with listeners already open (tests pass 127.0.0.1:0 ones).
func (s *service) serve(ctx context.Context, gl, al net.Listener) error {
	g := envoy.NewGRPCServer(s.authz)
	admin := &http.Server{Handler: s.adminMux(), ReadHeaderTimeout: 5 * time.Second}

	errc := make(chan error, 2)
	go func() { errc <- g.Serve(gl) }()
	go func() {
		if err := admin.Serve(al); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	s.log.Info("restguard serving", "grpc", gl.Addr().String(), "admin", al.Addr().String(), "version", version)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	// Shutdown: NOT_SERVING first so Envoy and Kubernetes stop sending,
	// then drain in-flight checks, then force.
	s.authz.Shutdown()
	s.ready.Store(false)
	stopped := make(chan struct{})
	go func() { g.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(shutdownGrace):
		g.Stop()
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	_ = admin.Shutdown(sctx)
	s.mu.Lock()
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	s.log.Info("restguard stopped")
	return runErr
}

func (s *service) adminMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if s.engine.Load() == nil || !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	switch c.Level {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
