package storetest

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// startTimeout bounds the wait for an engine's first successful call
// (DynamoDB Local: about 3 s on an idle machine, 30 s measured on a loaded
// 2-core one; moto: about 2 s).
const startTimeout = 90 * time.Second

// engine is an engine's child process (DynamoDB Local, moto_server).
type engine struct {
	name     string
	cmd      *exec.Cmd
	endpoint string
	output   *syncBuffer
	exited   chan struct{}
}

// lazyEngine starts its engine on first use, once per test binary.
type lazyEngine struct {
	name  string
	start func() (*engine, error)

	mu      sync.Mutex
	e       *engine
	err     error
	stopped bool
}

// endpoint starts the engine on first use and returns its URL. A failed
// start is remembered: every later caller gets the same error.
func (l *lazyEngine) endpoint() (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.e != nil {
		return l.e.endpoint, nil
	}
	if l.err != nil {
		return "", l.err
	}
	if l.stopped {
		return "", fmt.Errorf("%s: engines already stopped", l.name)
	}
	l.e, l.err = l.start()
	if l.err != nil {
		return "", l.err
	}
	return l.e.endpoint, nil
}

// running returns the engine if it was started and is not stopped.
func (l *lazyEngine) running() *engine {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.e
}

// stop stops the engine if it was started; no start happens after it.
func (l *lazyEngine) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
	if l.e != nil {
		l.e.stop()
		l.e = nil
	}
}

// startEngine runs path with args in dir, listening on the loopback port,
// and waits until it answers ListTables.
func startEngine(name string, port int, dir, path string, args ...string) (*engine, error) {
	e := &engine{
		name:     name,
		endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		output:   &syncBuffer{},
		exited:   make(chan struct{}),
	}
	e.cmd = exec.Command(path, args...)
	e.cmd.Dir = dir
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
		return nil, fmt.Errorf("%s: start %s: %w", name, path, err)
	}
	if err := e.waitReady(); err != nil {
		e.stop()
		return nil, err
	}
	return e, nil
}

// waitReady polls ListTables until the engine answers (an open port is
// not enough: DynamoDB Local's first call succeeds about 2 s after its
// port opens).
func (e *engine) waitReady() error {
	db, _ := Clients(e.endpoint, e.endpoint)
	deadline := time.Now().Add(startTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-e.exited:
			return fmt.Errorf("%s exited at start: %s", e.name, e.output.String())
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
	return fmt.Errorf("%s at %s not ready after %s: %v; output: %s", e.name, e.endpoint, startTimeout, last, e.output.String())
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
