package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/envoy"
	"github.com/restguard/restguard/internal/logbuf"
	"github.com/restguard/restguard/metrics"
	"github.com/restguard/restguard/providers"
	"github.com/restguard/restguard/sharedcache"
)

const (
	startupRefreshTimeout = 10 * time.Second
	shutdownGrace         = 10 * time.Second
	readinessPoll         = time.Second
)

const serveUsage = `usage: restguard serve [-config] FILE

Runs the ext_authz gRPC server (with grpc.health.v1), the forward-auth
listener when listen.http is set, and the admin endpoints /healthz,
/readyz and /metrics. SIGHUP (or reload.poll_interval) reloads FILE; a bad
file keeps the running configuration. SIGTERM drains and stops.
`

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), serveUsage, "\nflags:\n"); fs.PrintDefaults() }
	flagPath := fs.String("config", "", "configuration file (or give it as the argument)")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	file, ok := configArg(fs, *flagPath)
	if !ok {
		fs.Usage()
		return 2
	}
	cfg, err := config.Load(file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	// The log, decision log included, goes through a bounded buffer that
	// one goroutine writes out (internal/logbuf); Close writes the rest.
	lw := logbuf.New(stderr)
	defer lw.Close()
	stderr = lw
	logger := slog.New(lw.Handler(cfg.Log.Format == "text", &slog.HandlerOptions{Level: logLevel(cfg.Log)}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Once the first signal has started the shutdown, a second one has its
	// default effect: it ends the process at once, drain or not.
	go func() { <-ctx.Done(); stop() }()

	svc := newService(logger)
	svc.path = file
	svc.listen = cfg.Listen
	svc.opts = cfg.ServerOptions()
	svc.metrics.SetLogDropped(lw.Dropped)
	if err := svc.startFleet(ctx, cfg); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer svc.stopFleet()
	rt, err := svc.build(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	svc.install(ctx, rt)
	svc.metrics.Reloaded(true)
	go svc.watch(ctx, cfg.Reload.PollInterval.D())

	if err := svc.run(ctx, or(cfg.Listen.GRPC, config.DefaultGRPCListen), cfg.Listen.HTTP, or(cfg.Listen.Admin, config.DefaultAdminListen)); err != nil {
		logger.Error("restguard stopped", "error", err)
		return 1
	}
	return 0
}

// service owns the listeners, the current engine, the provider pool and
// the metrics.
type service struct {
	log     *slog.Logger
	engine  atomic.Pointer[authz.Engine]
	ready   atomic.Bool
	authz   *envoy.Server
	fwd     forwardAuth // the forward-auth listener's handler, rebuilt by install
	metrics *metrics.Metrics
	keys    *keyRing // published identity-assertion keys, across reloads
	pool    *config.Pool
	// runtime is the installed configuration (admin endpoints).
	runtime atomic.Pointer[config.Runtime]
	// shared is the cache the replicas share (nil: no redis section);
	// redis is the section it was made from, which a reload may not change.
	shared *sharedcache.Cache
	redis  *config.Config
	// revs records revocations, so that no answer fetched before one is
	// cached after it (providers.Revocations).
	revs *providers.Revocations
	// refusedLog is when a refused revocation was last logged (unix ns).
	refusedLog atomic.Int64
	path       string        // the configuration file, for reloads
	listen     config.Listen // the addresses the listeners were opened with
	// opts are the connection, drain and pprof settings, read once at
	// start (the zero value: no maximum age, no drain, no pprof).
	opts config.ServerOptions
	// after is time.After; tests replace it to end the drain themselves.
	after func(time.Duration) <-chan time.Time

	reloadMu sync.Mutex // one reload at a time
	lastHash [32]byte   // content hash of the last file loaded

	mu       sync.Mutex // guards cancel and stopping, and orders readiness against shutdown
	cancel   context.CancelFunc
	stopping bool // shutdown has begun: readiness is never reported again
	// onReady, if set, is closed once the first engine is ready (dev mode).
	onReady chan struct{}
	once    sync.Once
}

func newService(logger *slog.Logger) *service {
	s := &service{log: logger, metrics: metrics.New(version), revs: providers.NewRevocations(nil)}
	s.keys = &keyRing{log: logger.With("component", "assertion"), now: time.Now}
	s.authz = envoy.NewServer(s.engine.Load, logger.With("component", "envoy"))
	return s
}

// sameListeners refuses a reload that changes listen: the listeners are
// opened once, so the new addresses would be silently ignored.
func (s *service) sameListeners(cfg *config.Config) error {
	if cfg.Listen == s.listen {
		return nil
	}
	return fmt.Errorf("%s: listen changed (%s → %s): a listener change needs a restart; the running configuration stays until then", s.path, describeListen(s.listen), describeListen(cfg.Listen))
}

func describeListen(l config.Listen) string {
	return fmt.Sprintf("grpc %q, http %q, admin %q", l.GRPC, l.HTTP, l.Admin)
}

// build compiles cfg with the service's pool and metrics hook.
func (s *service) build(ctx context.Context, cfg *config.Config) (*config.Runtime, error) {
	if s.pool == nil {
		s.pool = config.NewPool(ctx)
	}
	return config.Build(cfg, config.BuildOptions{Logger: s.log, OnDecision: s.metrics.Observe, CallLatency: s.metrics.CallLatency, Pool: s.pool,
		Shared: s.sharedResults(), Revocations: s.revs})
}

// install starts rt's providers, warms them, and swaps its engine in. The
// previous runtime's background work is cancelled and pooled providers it
// no longer uses are stopped.
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
	s.keys.install(rt.Assertion) // before the first assertion it signs is sent
	s.runtime.Store(rt)          // before the engine: a revocation reaches what will answer
	s.engine.Store(rt.Engine)
	s.fwd.use(rt.Config, s.engine.Load, s.log)
	for _, w := range rt.Warnings {
		s.log.Warn("configuration warning", "warning", w.String())
	}
	var sources []metrics.StatsSource
	for _, bp := range rt.Providers {
		if r, ok := bp.Validator.(authz.StatsReporter); ok {
			sources = append(sources, metrics.StatsSource{Name: bp.Name, Kind: bp.Kind, StatsReporter: r})
		}
	}
	s.metrics.SetProviders(sources)
	if s.pool != nil {
		s.pool.Retain(rt)
	}
	s.mu.Lock()
	old := s.cancel
	s.cancel = cancel
	s.mu.Unlock()
	if old != nil {
		old()
	}
	go s.watchReady(rctx, rt)
}

// watchReady marks the service ready once rt's providers are warm.
func (s *service) watchReady(ctx context.Context, rt *config.Runtime) {
	t := time.NewTicker(readinessPoll)
	defer t.Stop()
	for {
		if rt.Ready() {
			// Under s.mu, so that "ready" is never logged (nor health set
			// to SERVING) once shutdown has begun.
			s.mu.Lock()
			if s.stopping {
				s.mu.Unlock()
				return
			}
			if !s.ready.Swap(true) {
				s.log.Info("restguard ready")
			}
			s.metrics.SetReady(true)
			s.authz.SetServing(true)
			s.mu.Unlock()
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

// reload builds a new engine from the file; a failure keeps the current
// one. force reloads even when the content did not change (SIGHUP).
func (s *service) reload(ctx context.Context, force bool) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	data, err := os.ReadFile(s.path)
	if err != nil {
		s.log.Error("configuration reload failed; keeping the running configuration", "file", s.path, "error", err)
		s.metrics.Reloaded(false)
		return
	}
	sum := sha256.Sum256(data)
	if !force && bytes.Equal(sum[:], s.lastHash[:]) {
		return
	}
	s.lastHash = sum
	cfg, err := config.Parse(s.path, data)
	if err == nil {
		err = s.sameListeners(cfg)
	}
	if err == nil {
		err = s.sameRedis(cfg)
	}
	var rt *config.Runtime
	if err == nil {
		rt, err = s.build(ctx, cfg)
	}
	if err != nil {
		s.log.Error("configuration reload failed; keeping the running configuration", "file", s.path, "error", err)
		s.metrics.Reloaded(false)
		return
	}
	s.install(ctx, rt)
	s.metrics.Reloaded(true)
	s.log.Info("configuration reloaded", "file", s.path)
}

// watch reloads on SIGHUP and, with a poll interval, when the file's
// content changes (this also follows Kubernetes ConfigMap symlink swaps,
// which file-change notifications miss).
func (s *service) watch(ctx context.Context, every time.Duration) {
	if data, err := os.ReadFile(s.path); err == nil {
		s.reloadMu.Lock()
		s.lastHash = sha256.Sum256(data)
		s.reloadMu.Unlock()
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			s.reload(ctx, true)
		case <-tick:
			s.reload(ctx, false)
		}
	}
}

// run opens the listeners and serves until ctx ends. Listener errors at
// startup are fatal. httpAddr may be empty (no forward-auth listener).
func (s *service) run(ctx context.Context, grpcAddr, httpAddr, adminAddr string) error {
	var ls []net.Listener
	closeAll := func() {
		for _, l := range ls {
			l.Close()
		}
	}
	for _, a := range []struct{ name, addr string }{{"grpc", grpcAddr}, {"http", httpAddr}, {"admin", adminAddr}} {
		if a.addr == "" {
			ls = append(ls, nil)
			continue
		}
		l, err := net.Listen("tcp", a.addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("%s listener: %w", a.name, err)
		}
		ls = append(ls, l)
	}
	return s.serve(ctx, ls[0], ls[1], ls[2])
}

// serve is run with listeners already open (tests pass 127.0.0.1:0 ones).
// hl may be nil.
func (s *service) serve(ctx context.Context, gl, hl, al net.Listener) error {
	g := envoy.NewGRPCServer(s.authz, envoy.Connections{
		MaxAge:      s.opts.MaxConnectionAge,
		MaxAgeGrace: s.opts.MaxConnectionAgeGrace,
	})
	admin := &http.Server{Handler: s.adminMux(), ReadHeaderTimeout: 5 * time.Second}
	var fwd *http.Server
	if hl != nil {
		fwd = &http.Server{
			Handler:           &s.fwd,
			ReadHeaderTimeout: 5 * time.Second,
			MaxHeaderBytes:    64 << 10,
		}
	}

	errc := make(chan error, 3)
	go func() { errc <- g.Serve(gl) }()
	serveHTTP := func(srv *http.Server, l net.Listener) {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}
	go serveHTTP(admin, al)
	attrs := []any{"grpc", gl.Addr().String(), "admin", al.Addr().String(), "version", version}
	if fwd != nil {
		go serveHTTP(fwd, hl)
		attrs = append(attrs, "http", hl.Addr().String())
	}
	s.log.Info("restguard serving", attrs...)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	// Shutdown: NOT_SERVING first so Envoy and Kubernetes stop sending,
	// keep answering for the drain delay while they move away, then
	// finish in-flight checks, then force. Under s.mu, so that "ready" is
	// never reported again once shutdown has begun.
	s.mu.Lock()
	s.stopping = true
	s.authz.Shutdown()
	s.ready.Store(false)
	s.metrics.SetReady(false)
	s.mu.Unlock()
	if d := s.opts.DrainDelay; d > 0 && runErr == nil {
		s.log.Info("restguard draining: NOT_SERVING, still answering", "drain_delay", d.String())
		after := s.after
		if after == nil {
			after = time.After
		}
		select {
		case <-after(d):
		case runErr = <-errc:
		}
	}
	stopped := make(chan struct{})
	go func() { g.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(shutdownGrace):
		g.Stop()
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if fwd != nil {
		_ = fwd.Shutdown(sctx)
	}
	_ = admin.Shutdown(sctx)
	s.mu.Lock()
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	s.keys.stop()
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
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.Handle("GET "+AssertionKeysPath, s.keys)
	mux.HandleFunc("POST "+RevokePath, s.revokeHandler)
	if s.opts.Pprof {
		// Opt-in (admin.pprof), and refused at load on a non-loopback
		// admin listener unless admin.pprof_non_loopback says it is
		// private: profiles show memory contents and code.
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func logLevel(c config.Log) slog.Level {
	switch c.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
