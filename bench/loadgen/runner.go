package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/applinks/applinks/tests/testkit/oauthflow"
)

// result is the outcome of one operation (or, named "codeflow/<step>", of
// one step of the code flow).
type result struct {
	Op     string `json:"op"`
	OK     int    `json:"ok"`
	Errors int    `json:"errors"`
	// Cut counts requests interrupted by the end of -duration; they are
	// neither successes nor failures.
	Cut        int           `json:"cut"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	Throughput float64       `json:"per_second"` // OK / Elapsed; 0 for steps
	P50        time.Duration `json:"p50_ns"`
	P95        time.Duration `json:"p95_ns"`
	P99        time.Duration `json:"p99_ns"`
	Max        time.Duration `json:"max_ns"`
	FirstError string        `json:"first_error,omitempty"`
}

// recorder collects the latencies of successful operations and the
// failures of one operation kind; it is safe for concurrent use.
type recorder struct {
	mu       sync.Mutex
	lat      map[string][]time.Duration // op or step -> latencies
	errors   int
	cut      int
	firstErr string
}

func newRecorder() *recorder { return &recorder{lat: map[string][]time.Duration{}} }

func (r *recorder) ok(name string, d time.Duration) {
	r.mu.Lock()
	r.lat[name] = append(r.lat[name], d)
	r.mu.Unlock()
}

// fail counts err unless ctx ended, in which case the request was cut by
// the time bound.
func (r *recorder) fail(ctx context.Context, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ctx.Err() != nil {
		r.cut++
		return
	}
	r.errors++
	if r.firstErr == "" {
		r.firstErr = err.Error()
	}
}

// cutOne counts a request that ended after the time bound.
func (r *recorder) cutOne() {
	r.mu.Lock()
	r.cut++
	r.mu.Unlock()
}

// worker is one concurrent client: its tokens for refresh and
// introspection.
type worker struct {
	tok oauthflow.Tokens
	// fx: the link and the user this client signs in as.
	fx *oauthflow.Fixtures

	// External mode only.
	id int // 1-based: the client's refresh token is the id-th of the file
	// keeps: the server's last answer to this client's refresh had no new
	// refresh token (it does not rotate), so a failed refresh leaves the
	// client's refresh token usable.
	keeps bool
	// lost: a refresh failed while the server may rotate, so the client's
	// refresh token may be gone.
	lost bool
	// jar: the client's browser for authorization, seeded from -sessions.
	jar http.CookieJar
}

// update takes the tokens of a refresh from another server: a new refresh
// token replaces the client's (a rotating server); none, or the same one,
// leaves the client its own (a non-rotating server).
func (w *worker) update(t oauthflow.Tokens) {
	w.keeps = t.RefreshToken == "" || t.RefreshToken == w.tok.RefreshToken
	if w.keeps {
		t.RefreshToken = w.tok.RefreshToken
	}
	w.tok = t
}

// runOp prepares op's clients (untimed), then runs op with them until
// o.count operations were started or o.duration passed. ext nil: this
// project's provider, o.concurrency fresh clients, each signing in as one
// of users; otherwise the clients of another server, kept across
// operations (prepareExternal; users unused).
func runOp(ctx context.Context, c *client, users []*oauthflow.Fixtures, op string, o options, ext []*worker) ([]result, error) {
	var workers []*worker
	var err error
	if ext == nil {
		workers, err = prepareProvider(ctx, c, users, op, o.concurrency)
	} else {
		workers, err = prepareExternal(ctx, c, op, ext)
	}
	if err != nil {
		return nil, err
	}

	rec := newRecorder()
	opCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var started atomic.Int64
	var wg sync.WaitGroup
	begin := time.Now()
	for _, w := range workers {
		wg.Go(func() {
			for opCtx.Err() == nil && started.Add(1) <= int64(o.count) {
				if !once(ctx, opCtx, c, op, w, rec) {
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(begin)
	if c.external {
		// Refreshes in flight at the end of -duration were let finish
		// (once); they are cut, and the time they took is not the run's.
		elapsed = min(elapsed, o.duration)
	}

	var results []result
	names := []string{op}
	switch op {
	case opCodeFlow:
		for _, s := range oauthflow.Steps {
			names = append(names, op+"/"+s)
		}
	case opAuthorization:
		for _, s := range authorizationSteps {
			names = append(names, op+"/"+s)
		}
	}
	for _, name := range names {
		r := summarize(name, rec.lat[name], elapsed)
		if name == op {
			r.Errors, r.Cut, r.FirstError = rec.errors, rec.cut, rec.firstErr
			r.Throughput = float64(r.OK) / elapsed.Seconds()
		}
		results = append(results, r)
	}
	return results, nil
}

// prepareProvider returns n clients for op; for refresh and introspect,
// each signs in once to get its own token family (refresh tokens rotate,
// so clients cannot share one).
func prepareProvider(ctx context.Context, c *client, users []*oauthflow.Fixtures, op string, n int) ([]*worker, error) {
	workers := make([]*worker, n)
	for i := range workers {
		workers[i] = &worker{fx: users[i%len(users)]}
	}
	if op != opCodeFlow {
		var wg sync.WaitGroup
		errs := make([]error, len(workers))
		for i, w := range workers {
			wg.Go(func() {
				var err error
				w.tok, _, err = c.codeFlow(ctx, w.fx)
				errs[i] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("prepare tokens: %w", err)
		}
	}
	return workers, nil
}

// prepareExternal returns the clients of another server that take part in
// op. Before introspect, each refreshes once (untimed) for a current access
// token. A client whose refresh token may be gone (lost) tries one refresh
// (untimed) before either operation: if it fails, the client sits out, with
// a note on stderr. Any other client's failed refresh stops the run.
func prepareExternal(ctx context.Context, c *client, op string, all []*worker) ([]*worker, error) {
	var wg sync.WaitGroup
	errs := make([]error, len(all))
	if op == opAuthorization {
		// Its clients need their sessions, not their refresh tokens.
		return all, nil
	}
	for i, w := range all {
		if op != opIntrospect && !w.lost {
			continue
		}
		wg.Go(func() {
			t, err := c.refresh(ctx, w.fx, w.tok.RefreshToken)
			if err != nil {
				errs[i] = err
				return
			}
			w.update(t)
			w.lost = false
		})
	}
	wg.Wait()
	var ready []*worker
	var fatal []error
	for i, w := range all {
		switch {
		case errs[i] == nil:
			ready = append(ready, w)
		case w.lost:
			fmt.Fprintf(os.Stderr, "loadgen: %s: client %d sits out: its refresh token, whose last refresh failed, no longer refreshes: %v\n", op, w.id, errs[i])
		default:
			fatal = append(fatal, fmt.Errorf("client %d: %w", w.id, errs[i]))
		}
	}
	if err := errors.Join(fatal...); err != nil {
		return nil, fmt.Errorf("prepare tokens: %w", err)
	}
	if len(ready) == 0 {
		return nil, errors.New("no client has a usable refresh token left")
	}
	return ready, nil
}

// once runs one operation within ctx, the operation's time bound, and
// records it; false stops the worker (its token family is lost and could
// not be replaced). runCtx is the whole run's (Ctrl-C).
func once(runCtx, ctx context.Context, c *client, op string, w *worker, rec *recorder) bool {
	fx := w.fx
	if c.external && op == opRefresh {
		return onceExternalRefresh(runCtx, ctx, c, fx, w, rec)
	}
	start := time.Now()
	var err error
	switch op {
	case opRefresh:
		var t oauthflow.Tokens
		if t, err = c.refresh(ctx, fx, w.tok.RefreshToken); err == nil {
			w.tok = t
		}
	case opIntrospect:
		err = c.introspect(ctx, fx, w.tok.AccessToken)
	case opCodeFlow, opAuthorization:
		var times flowTimes
		if op == opCodeFlow {
			_, times, err = c.codeFlow(ctx, fx)
		} else {
			times, err = c.authorization(ctx, fx, w.jar)
		}
		if err == nil {
			for s, d := range times {
				rec.ok(op+"/"+s, d)
			}
		}
	}
	d := time.Since(start)
	if err == nil {
		rec.ok(op, d)
		return true
	}
	rec.fail(ctx, err)
	if op == opRefresh && ctx.Err() == nil {
		// The rotated token may be gone: start a new family (untimed).
		t, _, ferr := c.codeFlow(ctx, fx)
		if ferr != nil {
			return false
		}
		w.tok = t
	}
	return ctx.Err() == nil
}

// onceExternalRefresh is once's refresh against another server. The end of
// -duration (ctx) does not interrupt the request, which is bounded by
// -timeout and by runCtx alone: a rotating server would likely consume the
// refresh token of an interrupted request, leaving the client none for the
// next operation. A refresh that ends after ctx is counted as cut, as an
// interrupted one would be, and its tokens are kept.
func onceExternalRefresh(runCtx, ctx context.Context, c *client, fx *oauthflow.Fixtures, w *worker, rec *recorder) bool {
	start := time.Now()
	t, err := c.refresh(runCtx, fx, w.tok.RefreshToken)
	d := time.Since(start)
	if err == nil {
		w.update(t)
		if ctx.Err() != nil {
			rec.cutOne()
			return false
		}
		rec.ok(opRefresh, d)
		return true
	}
	rec.fail(ctx, err)
	if !w.keeps {
		// The server may have consumed the refresh token (rotation) and no
		// new family can be started: this client stops.
		w.lost = true
		return false
	}
	return ctx.Err() == nil
}

// summarize computes the percentiles of lat (nearest-rank method).
func summarize(name string, lat []time.Duration, elapsed time.Duration) result {
	r := result{Op: name, OK: len(lat), Elapsed: elapsed}
	if len(lat) == 0 {
		return r
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	r.P50, r.P95, r.P99 = percentile(s, 50), percentile(s, 95), percentile(s, 99)
	r.Max = s[len(s)-1]
	return r
}

// percentile returns the nearest-rank p-th percentile of sorted (not
// empty): the smallest value with at least p% of the values at or below it.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// writeTable prints the results for a person.
func writeTable(out io.Writer, o options, results []result) {
	fmt.Fprintf(out, "loadgen: %s, %d clients, at most %d operations or %s per operation\n",
		o.target(), o.concurrency, o.count, o.duration)
	// Operation names are padded to one width so that they read left
	// aligned while the numbers align right.
	width := len("op")
	for _, r := range results {
		width = max(width, len(r.Op))
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tok\terrors\tcut\tseconds\tper second\tp50\tp95\tp99\tmax\t\n", width, "op")
	for _, r := range results {
		tput := "-"
		if r.Throughput > 0 {
			tput = fmt.Sprintf("%.1f", r.Throughput)
		}
		errs, cut := fmt.Sprint(r.Errors), fmt.Sprint(r.Cut)
		if strings.Contains(r.Op, "/") {
			errs, cut = "-", "-" // a step: its failures count in the flow's
		}
		fmt.Fprintf(tw, "%-*s\t%d\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t\n", width, r.Op, r.OK, errs, cut,
			r.Elapsed.Seconds(), tput, ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max))
	}
	_ = tw.Flush()
	for _, r := range results {
		if r.FirstError != "" {
			fmt.Fprintf(out, "%s: first error: %s\n", r.Op, r.FirstError)
		}
	}
}

// ms formats d in milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

// writeJSON prints the results for a program.
func writeJSON(out io.Writer, o options, results []result) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	head := map[string]any{
		"issuer": o.issuer, "clients": o.concurrency, "max_count": o.count,
		"max_duration_ns": o.duration, "results": results,
	}
	if o.external() {
		delete(head, "issuer")
		head["token_url"] = o.tokenURL
		if o.introspectURL != "" {
			head["introspect_url"] = o.introspectURL
		}
		if o.authorizeURL != "" {
			head["authorize_url"] = o.authorizeURL
		}
	}
	return enc.Encode(head)
}

// target names what the run drove, for the table's first line: the issuer,
// or another server's endpoints.
func (o options) target() string {
	if !o.external() {
		return o.issuer
	}
	s := "token " + o.tokenURL
	if o.introspectURL != "" {
		s += ", introspect " + o.introspectURL
	}
	if o.authorizeURL != "" {
		s += ", authorize " + o.authorizeURL
	}
	return s
}
