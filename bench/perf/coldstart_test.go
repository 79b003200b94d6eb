package perf

import (
	"archive/zip"
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/applinks/applinks/shared/store/storetest"
	"github.com/applinks/applinks/tests/lambdatest"
)

// coldTarget is one binary measured under the emulator, with the API
// Gateway event of its first (cold) invocation and the status it must
// answer.
type coldTarget struct {
	name   string // "hello" or the function's directory under functions/
	pkg    string // the package to build, relative to the module root
	event  events.APIGatewayV2HTTPRequest
	status int
}

// apiEvent is an API Gateway HTTP API (payload format 2.0) event for
// method and target (a path with an optional query); iam adds the IAM
// authorizer context API Gateway sets on /admin/* (SigV4).
func apiEvent(method, target string, iam bool) events.APIGatewayV2HTTPRequest {
	ev := lambdatest.Event(method, target, map[string]string{"host": "127.0.0.1", "accept": "application/json"}, "")
	if iam {
		ev = lambdatest.WithIAM(ev, "arn:aws:iam::000000000000:user/perf")
	}
	return ev
}

var coldTargets = []coldTarget{
	{"hello", "./bench/perf/testdata/hello", apiEvent("GET", "/", false), http.StatusOK},
	{"sdkfloor", "./bench/perf/testdata/sdkfloor", apiEvent("GET", "/", false), http.StatusOK},
	{"keyfloor", "./bench/perf/testdata/keyfloor", apiEvent("GET", "/", false), http.StatusOK},
	{"token", "./functions/token/lambda", apiEvent("GET", "/.well-known/oauth-authorization-server", false), http.StatusOK},
	// The same function whose first request needs the signing keys: its
	// first call waits for the read INIT began.
	{"token-jwks", "./functions/token/lambda", apiEvent("GET", "/.well-known/jwks.json", false), http.StatusOK},
	// An unknown client: the error page after one GetItem.
	{"authorize", "./functions/authorize/lambda", apiEvent("GET", "/oauth2/authorize?client_id=perf-unknown", false), http.StatusBadRequest},
	{"admin", "./functions/admin/lambda", apiEvent("GET", "/admin/links", true), http.StatusOK},
}

// BenchmarkColdStart builds each bootstrap and a hello-world aws-lambda-go
// function for the host with `make build`'s flags, starts each under the
// Lambda Runtime Interface Emulator several times (after one start that is
// not counted: the first start that reads the signing keys (keyfloor) generates and
// stores the signing key), invokes it once per start with an API Gateway
// event, and reports medians:
//
//	init-ms        the INIT phase as the emulator logs it ("INIT REPORT
//	               (durationMs: ...)"): process start to the runtime's first
//	               /next, including config and SDK clients; token begins
//	               its signing-key read at the end of INIT and does not
//	               wait for it (token-jwks: the same binary, whose first
//	               request, the JWK Set, waits for it)
//	x-hello        the median over rounds of init over hello's init in
//	               the same round (target at most 1.5);
//	               sdkfloor (hello plus store.Open: config and SDK
//	               clients, no call) shows the SDK's share, keyfloor
//	               (sdkfloor plus signing.New: one GetSecretValue and the
//	               key's parsing) that of reading the signing key
//	min-init-ms    the fastest start, and x-hello-min the ratio of the
//	               fastest starts: on a loaded machine, contention only
//	               adds time, so the minimum is the steadiest estimate
//	report-init-ms "Init Duration" of the REPORT line; this emulator times
//	               only its own asynchronous init call there, so it is
//	               shown but not the measure
//	first-call-ms  the first invocation seen by the caller (init + invoke)
//	arm64-MB       the linux/arm64 bootstrap's size with `make build`'s
//	               flags (target at most 10), and arm64-zip-MB zipped
//
// The starts are interleaved: each round starts every binary once, in
// turn, so that the machine's changing load weighs on all of them alike, and
// x-hello is the median of the per-round ratios. -coldstart-rounds sets the
// number of counted rounds (make bench: 25). It needs the emulator
// (lambdatest.RIEPath: AWS_LAMBDA_RIE, .local/bin, PATH or $GOPATH/bin;
// `make tools` installs it) and DynamoDB Local.
func BenchmarkColdStart(b *testing.B) {
	rie, err := lambdatest.RIEPath()
	if err != nil {
		b.Fatal(err)
	}
	root, err := lambdatest.ModuleRoot()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	env := storetest.DynamoLocalEnv(b)
	bins := map[string]string{}
	for _, t := range coldTargets {
		bins[t.name] = goBuild(b, root, t.pkg, filepath.Join(dir, "host", t.name), runtime.GOARCH)
	}
	// Round 0 is not counted.
	results := map[string][]coldResult{}
	for round := 0; round <= *coldRounds; round++ {
		for _, t := range coldTargets {
			r := coldInvoke(b, rie, bins[t.name], env, t)
			if round == 0 {
				b.Logf("%s: uncounted first start: init %.1f ms", t.name, r.initMS)
				continue
			}
			results[t.name] = append(results[t.name], r)
		}
	}
	hello := results["hello"]
	for _, t := range coldTargets {
		b.Run(t.name, func(b *testing.B) {
			for range b.N {
				// The starts were measured above, interleaved; each
				// sub-benchmark reports its share.
			}
			var inits, reports, calls, ratios []float64
			for i, r := range results[t.name] {
				inits = append(inits, r.initMS)
				reports = append(reports, r.reportInitMS)
				calls = append(calls, r.firstCallMS)
				ratios = append(ratios, r.initMS/hello[i].initMS)
			}
			b.ReportMetric(0, "ns/op") // the metrics below are the measure
			b.ReportMetric(median(inits), "init-ms")
			b.ReportMetric(slices.Min(inits), "min-init-ms")
			b.ReportMetric(median(reports), "report-init-ms")
			b.ReportMetric(median(calls), "first-call-ms")
			if t.name != "hello" {
				b.ReportMetric(median(ratios), "x-hello")
				b.ReportMetric(slices.Min(inits)/slices.Min(helloInits(hello)), "x-hello-min")
			}
			bin, zipped := arm64Size(b, root, dir, t)
			b.ReportMetric(float64(bin)/1e6, "arm64-MB")
			b.ReportMetric(float64(zipped)/1e6, "arm64-zip-MB")
			b.Logf("%s: init ms %v (median %.1f), ratio to hello per round %.2f", t.name, inits, median(inits), ratios)
		})
	}
}

// helloInits are the init times of hello's starts.
func helloInits(rs []coldResult) []float64 {
	var v []float64
	for _, r := range rs {
		v = append(v, r.initMS)
	}
	return v
}

// coldRounds is the number of counted rounds of BenchmarkColdStart.
var coldRounds = flag.Int("coldstart-rounds", 25, "counted rounds of BenchmarkColdStart (each starts every binary once)")

// coldResult is one cold start.
type coldResult struct {
	initMS, reportInitMS, firstCallMS float64
}

// coldInvoke starts the emulator with bin, invokes it once with t's event,
// checks the answer's status and reads the init durations from the
// emulator's output. The emulator and the function are stopped before it
// returns.
func coldInvoke(b *testing.B, rie, bin string, env storetest.Env, t coldTarget) coldResult {
	b.Helper()
	home := b.TempDir()
	e := lambdatest.Start(b, rie, bin, append([]string{"HOME=" + home, "PATH=/usr/bin:/bin",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256", "ISSUER_URL=http://127.0.0.1:8080"}, env.Environ()...))
	defer e.Stop()
	resp, firstCall, err := e.InvokeTimed(t.event)
	if err != nil {
		b.Fatalf("%s: invoke: %v\n%s", t.name, err, e.Output())
	}
	if resp.StatusCode != t.status {
		b.Fatalf("%s: got statusCode %d (body %.300s), want %d\n%s", t.name, resp.StatusCode, resp.Body, t.status, e.Output())
	}
	// The REPORT line follows the answer.
	rs := e.WaitReports(1, 5*time.Second)
	if len(rs) == 0 || rs[0].InitDuration == 0 || !rs[0].HasReportedInit {
		b.Fatalf("%s: no INIT REPORT or REPORT Init Duration in the emulator's output:\n%s", t.name, e.Output())
	}
	return coldResult{
		initMS:       float64(rs[0].InitDuration) / float64(time.Millisecond),
		reportInitMS: float64(rs[0].ReportedInit) / float64(time.Millisecond),
		firstCallMS:  float64(firstCall) / float64(time.Millisecond),
	}
}

// goBuild builds pkg with `make build`'s flags into out for linux/goarch:
// the host's architecture for the emulator, or arm64 as deployed.
func goBuild(b *testing.B, root, pkg, out, goarch string) string {
	b.Helper()
	if err := lambdatest.BuildPackage(context.Background(), root, pkg, out, goarch); err != nil {
		b.Fatal(err)
	}
	return out
}

// arm64Size is the size of t's linux/arm64 bootstrap and of its zip: from
// `make build`'s output under BUILD_DIR when set (make bench builds first),
// else built here with the same flags.
func arm64Size(b *testing.B, root, dir string, t coldTarget) (bin, zipped int64) {
	b.Helper()
	path := ""
	if bd := os.Getenv("BUILD_DIR"); bd != "" && !strings.HasPrefix(t.pkg, "./bench/") {
		fn := strings.TrimSuffix(strings.TrimPrefix(t.pkg, "./functions/"), "/lambda")
		path = filepath.Join(bd, fn, "bootstrap")
	}
	if path == "" {
		path = filepath.Join(dir, "arm64", t.name, "bootstrap")
		if _, err := os.Stat(path); err != nil {
			goBuild(b, root, t.pkg, path, "arm64")
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatalf("arm64 bootstrap of %s: %v", t.name, err)
	}
	return fi.Size(), zipSize(b, path)
}

// zipSize is the size of a deflated zip holding path as "bootstrap", as
// `make build` packages it.
func zipSize(b *testing.B, path string) int64 {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeZip(&buf, "bootstrap", data); err != nil {
		b.Fatalf("zip %s: %v", path, err)
	}
	return int64(buf.Len())
}

// median of values (not empty).
func median(values []float64) float64 {
	s := slices.Clone(values)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// writeZip writes a zip archive holding data as name, deflated.
func writeZip(w io.Writer, name string, data []byte) error {
	zw := zip.NewWriter(w)
	f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return zw.Close()
}
