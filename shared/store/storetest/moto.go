package storetest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// motoEngine is moto's server (moto_server, the AWS emulator LocalStack's
// community edition builds on), started on first use.
var motoEngine = &lazyEngine{name: "moto", start: startMoto}

// motoLocal is where `make tools` installs moto (a Python venv) when it is
// not on PATH.
const motoLocal = ".local/py/bin/moto_server"

// findMoto returns moto_server from PATH, else from .local/moto below the
// module root (walking up from dir).
func findMoto(dir string) (string, error) {
	if p, err := exec.LookPath("moto_server"); err == nil {
		return p, nil
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if p := filepath.Join(dir, motoLocal); isExecutable(p) {
				return p, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("moto_server not found on PATH or in %s (moto 5.2.1 is needed): run `make tools`", motoLocal)
		}
		dir = parent
	}
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func startMoto() (*engine, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	path, err := findMoto(wd)
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, fmt.Errorf("moto: pick a port: %w", err)
	}
	// State is in memory (lost when it stops) and per region, like AWS.
	e, err := startEngine("moto", port, "", path, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	if err == nil {
		motoURL.Store(e.endpoint)
	}
	return e, err
}

// motoURL is the endpoint of the moto server this binary started.
var motoURL atomic.Value

// isMoto reports whether url is the moto server this binary started, or a
// moto server started by hand and named by AWS_ENDPOINT_URL (`make
// test-localstack` against moto): one that serves moto's own API,
// /moto-api/. The answer for each URL is kept.
func isMoto(url string) bool {
	if u, _ := motoURL.Load().(string); u != "" && u == url {
		return true
	}
	if url != os.Getenv("AWS_ENDPOINT_URL") {
		return false
	}
	if v, ok := motoProbed.Load(url); ok {
		return v.(bool)
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(strings.TrimSuffix(url, "/") + "/moto-api/")
	is := err == nil && resp.StatusCode == http.StatusOK
	if err == nil {
		resp.Body.Close()
	}
	v, _ := motoProbed.LoadOrStore(url, is)
	return v.(bool)
}

// motoProbed holds isMoto's answers for AWS_ENDPOINT_URL.
var motoProbed sync.Map

// serialClient sends one request at a time and reads each answer whole
// before the next request goes out.
//
// moto does not make a conditional write atomic against a concurrent one
// (measured with moto 5.2.1: 20 parallel redemptions of one code wrote 3
// grants, and 20 parallel sign-in attempts reserved 5 of 3 throttle slots),
// so the store's concurrency tests would fail on the engine, not on the
// store. Serialized, each request still runs against the state the ones
// before it left, which is one of the orders AWS may choose: the tests'
// assertions hold for it, but only DynamoDB Local proves the store under
// real concurrency.
type serialClient struct {
	mu   *sync.Mutex
	base *awshttp.BuildableClient
}

// motoMu serializes every request of this binary to moto.
var motoMu sync.Mutex

func (c serialClient) Do(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	resp, err := c.base.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read %s answer: %w", req.URL.Host, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}
