//go:build unix

// Package lambdatest runs the three Lambda binaries as Lambda runs them: each
// `bootstrap` (built with -tags lambda.norpc for the host's architecture)
// under the AWS Lambda Runtime Interface Emulator, invoked with API Gateway
// HTTP API (payload format 2.0) events, against DynamoDB Local and kumo's
// Secrets Manager (storetest). Its tests prove what unit tests cannot: the
// entry points, the proxy adapter's event translation (form and base64
// bodies, the IAM principal in the request context) and start-up failures.
//
// The helpers are exported for benchmarks that time cold and warm starts
// from the emulator's REPORT lines.
package lambdatest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/applinks/applinks/shared/logtest"
	"github.com/applinks/applinks/shared/store/storetest"
)

// Functions are the function names, each built from functions/<name>/lambda.
var Functions = []string{"admin", "authorize", "token"}

// ModuleRoot returns the directory of the main module's go.mod, found by
// walking up from the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			bytes.Contains(b, []byte("module github.com/applinks/applinks\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root: no go.mod of github.com/applinks/applinks above the working directory")
		}
		dir = parent
	}
}

// Build compiles the three functions for linux and the host's architecture
// (what the emulator can run) into dir/<name>/bootstrap, with the flags of
// `make build`, and returns the paths by name.
func Build(ctx context.Context, dir string) (map[string]string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, fn := range Functions {
		bin := filepath.Join(dir, fn, "bootstrap")
		if err := BuildPackage(ctx, root, "./functions/"+fn+"/lambda", bin, runtime.GOARCH); err != nil {
			return nil, fmt.Errorf("build %s: %w", fn, err)
		}
		out[fn] = bin
	}
	return out, nil
}

// buildFlags are the go build flags of `make build` (TestBuildFlagsAreMakeBuilds
// keeps the two equal).
var buildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", noInlineAdmin}

// noInlineAdmin builds the admin function's own package without inlining:
// its handlers are the console's pages and the admin API, where a call
// more or less is not measurable, and inlining there cost about 260 KB of
// the admin bootstrap's 12 MiB budget. Every other package, the store and
// the SDK included, is compiled as usual; the flag names a package the
// authorize and token bootstraps do not link, so it changes nothing there.
const noInlineAdmin = "-gcflags=github.com/applinks/applinks/functions/admin=-l"

// BuildPackage compiles pkg (a package path, or one relative to root, the
// module root) into out for linux and goarch, with buildFlags and cgo off:
// a Lambda bootstrap, for the emulator (runtime.GOARCH) or as `make build`
// makes it ("arm64").
func BuildPackage(ctx context.Context, root, pkg, out, goarch string) error {
	args := append(append([]string{"build"}, buildFlags...), "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s for linux/%s: %w\n%s", pkg, goarch, err, b)
	}
	return nil
}

// RIEPath finds the emulator: $AWS_LAMBDA_RIE, then .local/bin/aws-lambda-rie
// under the module root (where `make tools` installs it), then PATH, then
// $GOPATH/bin (where a plain `go install` puts it).
func RIEPath() (string, error) {
	if p := os.Getenv("AWS_LAMBDA_RIE"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("AWS_LAMBDA_RIE=%s: %w (run make tools)", p, err)
		}
		return p, nil
	}
	if root, err := ModuleRoot(); err == nil {
		p := filepath.Join(root, ".local", "bin", "aws-lambda-rie")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "aws-lambda-rie")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("aws-lambda-rie not found in $AWS_LAMBDA_RIE, .local/bin, PATH or $GOPATH/bin: run make tools")
}

// Emulator is one bootstrap running under the Runtime Interface Emulator.
// Invocations are serial, as in one Lambda execution environment.
type Emulator struct {
	url     string
	cmd     *exec.Cmd
	output  *logtest.Buffer
	client  *http.Client
	stop    sync.Once
	stopped atomic.Bool
}

// Start runs bootstrap under the emulator at rie with env as the complete
// environment besides PATH and HOME, which are the test's unless env sets
// them too (the last value of a variable wins), and stops the process group
// when the test ends, whatever its outcome, unless Stop did so before. When
// the test fails, the output of an emulator still running at its end is
// logged.
func Start(t testing.TB, rie, bootstrap string, env []string) *Emulator {
	t.Helper()
	// The two ports are picked free, then bound by the emulator: another
	// process (or the other port) can take one in between on a busy
	// machine, and the emulator then runs without its runtime API. So the
	// emulator counts as started once both ports accept connections; if
	// they do not, it is started again on other ports.
	var last string
	for range 3 {
		e, ok := start(t, rie, bootstrap, env)
		if ok {
			return e
		}
		last = e.output.String()
	}
	t.Fatalf("emulator did not listen on its two ports in three tries:\n%s", last)
	return nil
}

// start runs the emulator once; ok is false (and the emulator stopped) when
// its ports do not both accept connections within 10 s.
func start(t testing.TB, rie, bootstrap string, env []string) (*Emulator, bool) {
	t.Helper()
	p1, p2 := freePort(t), freePort(t)
	for p2 == p1 {
		p2 = freePort(t)
	}
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", "127.0.0.1:"+strconv.Itoa(p1),
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(p2),
		bootstrap)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	out := &logtest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so that the emulator and the bootstrap it
	// started are killed together.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", rie, err)
	}
	e := &Emulator{
		url:    fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", p1),
		cmd:    cmd,
		output: out,
		client: &http.Client{Timeout: 60 * time.Second},
	}
	t.Cleanup(func() {
		if e.stopped.Load() {
			return
		}
		e.Stop()
		if t.Failed() {
			t.Logf("emulator output (%s):\n%s", filepath.Base(filepath.Dir(bootstrap)), out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range []int{p1, p2} {
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				e.Stop()
				return e, false
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return e, true
}

// Stop stops the emulator and the function now rather than when the test
// ends (a benchmark that starts many keeps one running at a time). Output
// stays readable; Stop's caller reports it if need be.
func (e *Emulator) Stop() {
	e.stop.Do(func() {
		e.stopped.Store(true)
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		_ = e.cmd.Wait()
	})
}

// Invoke sends ev as an API Gateway HTTP API event and decodes the
// function's response. A function error (the emulator's errorMessage
// payload) is an error.
func (e *Emulator) Invoke(ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	resp, _, err := e.InvokeTimed(ev)
	return resp, err
}

// InvokeTimed is Invoke, and also returns the invocation as the caller
// sees it: from sending the request to the last byte of the answer (on an
// environment's first invocation, the initialisation and the invocation).
func (e *Emulator) InvokeTimed(ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, time.Duration, error) {
	var resp events.APIGatewayV2HTTPResponse
	body, err := json.Marshal(ev)
	if err != nil {
		return resp, 0, fmt.Errorf("encode event: %w", err)
	}
	start := time.Now()
	r, err := e.client.Post(e.url, "application/json", bytes.NewReader(body))
	if err != nil {
		return resp, 0, fmt.Errorf("invoke: %w", err)
	}
	defer r.Body.Close()
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return resp, 0, fmt.Errorf("invoke: read response: %w", err)
	}
	took := time.Since(start)
	var fnErr struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if json.Unmarshal(raw, &fnErr) == nil && (fnErr.ErrorMessage != "" || fnErr.ErrorType != "") {
		return resp, took, fmt.Errorf("function error %s: %s", fnErr.ErrorType, fnErr.ErrorMessage)
	}
	if r.StatusCode != http.StatusOK {
		return resp, took, fmt.Errorf("invoke: emulator status %d: %s", r.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return resp, took, fmt.Errorf("decode response %q: %w", raw, err)
	}
	return resp, took, nil
}

// InvokeRaw sends payload as it is (an event of any kind, such as a
// scheduled event) and returns the function's answer; a function error is
// an error.
func (e *Emulator) InvokeRaw(payload []byte) ([]byte, error) {
	r, err := e.client.Post(e.url, "application/json", bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	defer r.Body.Close()
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke: read response: %w", err)
	}
	var fnErr struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if json.Unmarshal(raw, &fnErr) == nil && (fnErr.ErrorMessage != "" || fnErr.ErrorType != "") {
		return raw, fmt.Errorf("function error %s: %s", fnErr.ErrorType, fnErr.ErrorMessage)
	}
	if r.StatusCode != http.StatusOK {
		return raw, fmt.Errorf("invoke: emulator status %d: %s", r.StatusCode, raw)
	}
	return raw, nil
}

// Output is everything the emulator and the function wrote so far.
func (e *Emulator) Output() string { return e.output.String() }

// Report is one invocation as the emulator reports it: its duration, and
// for the first one of an execution environment the duration of the
// initialisation (the cold start: the function's main up to lambda.Start).
type Report struct {
	RequestID    string
	InitDuration time.Duration // 0 when the environment was warm
	Duration     time.Duration
	// ReportedInit is the "Init Duration" field of the REPORT line, which
	// the emulator writes on an environment's first invocation only
	// (HasReportedInit). It times only the emulator's own asynchronous init
	// call, not the initialisation: InitDuration is the measure.
	ReportedInit    time.Duration
	HasReportedInit bool
}

// The emulator writes "INIT REPORT(durationMs: N)" when a runtime has
// initialised, then a REPORT line per invocation. The "Init Duration" field
// of its REPORT line is not the initialisation (it shows a few µs), so the
// INIT REPORT is used; the first invocation's Duration includes the init.
var (
	initLine   = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	reportLine = regexp.MustCompile(`REPORT RequestId: (\S+)\s+(?:Init Duration: ([0-9.]+) ms\s+)?Duration: ([0-9.]+) ms`)
)

// Reports parses the REPORT lines written so far.
func (e *Emulator) Reports() []Report {
	return ParseReports(e.Output())
}

// WaitReports waits up to timeout for n REPORT lines (the emulator may
// write one after it has answered) and returns those written by then.
func (e *Emulator) WaitReports(n int, timeout time.Duration) []Report {
	deadline := time.Now().Add(timeout)
	for {
		rs := e.Reports()
		if len(rs) >= n || time.Now().After(deadline) {
			return rs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ParseReports parses the emulator's output.
func ParseReports(out string) []Report {
	var rs []Report
	var pendingInit time.Duration
	for _, line := range strings.Split(out, "\n") {
		if m := initLine.FindStringSubmatch(line); m != nil {
			pendingInit = ms(m[1])
			continue
		}
		if m := reportLine.FindStringSubmatch(line); m != nil {
			rs = append(rs, Report{RequestID: m[1], InitDuration: pendingInit, Duration: ms(m[3]),
				ReportedInit: ms(m[2]), HasReportedInit: m[2] != ""})
			pendingInit = 0
		}
	}
	return rs
}

// ms converts the emulator's milliseconds to a Duration, rounded to the
// nanosecond.
func ms(s string) time.Duration {
	f, _ := strconv.ParseFloat(s, 64)
	return time.Duration(math.Round(f * float64(time.Millisecond)))
}

// Event is an API Gateway HTTP API (payload 2.0) event for method and
// target (a path with an optional query), as the $default stage sends it.
func Event(method, target string, headers map[string]string, body string) events.APIGatewayV2HTTPRequest {
	path, query, _ := strings.Cut(target, "?")
	h := map[string]string{}
	for k, v := range headers {
		h[strings.ToLower(k)] = v // API Gateway lower-cases header names
	}
	return events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "$default",
		RawPath:        path,
		RawQueryString: query,
		Headers:        h,
		Body:           body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID:    "123456789012",
			APIID:        "api1234567",
			DomainName:   "api1234567.execute-api.us-east-1.amazonaws.com",
			DomainPrefix: "api1234567",
			Stage:        "$default",
			RequestID:    fmt.Sprintf("req-%d", time.Now().UnixNano()),
			Time:         time.Now().UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    time.Now().UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    method,
				Path:      path,
				Protocol:  "HTTP/1.1",
				SourceIP:  "203.0.113.7",
				UserAgent: "lambdatest",
			},
		},
	}
}

// WithIAM sets the IAM authorizer's principal in ev's request context, as
// API Gateway does for a route with IAM authorization and a valid SigV4
// signature.
func WithIAM(ev events.APIGatewayV2HTTPRequest, userARN string) events.APIGatewayV2HTTPRequest {
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{
			AccessKey: "AKIAEXAMPLE",
			AccountID: "123456789012",
			CallerID:  "AIDAEXAMPLE",
			UserARN:   userARN,
			UserID:    "AIDAEXAMPLE",
		},
	}
	return ev
}

func freePort(t testing.TB) int {
	t.Helper()
	p, err := storetest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
