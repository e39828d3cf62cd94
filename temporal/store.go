package temporal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Store keeps results too large to travel inline on Temporal, whose
// payloads are capped at 2 MB (with a warning from 512 KB) and whose
// history at 50 MB. A worker given a Store (WithStore) puts each result
// above its threshold there, and hands the workflow a small reference
// instead; a worker whose task reads such a result gets it back from the
// Store before the task runs. Every worker must see the same Store: a
// directory on a shared filesystem (DirStore), or an object store behind
// this interface. Keys are the workflow ID, the task ID and the attempt, so
// a re-run task writes a key of its own, and Put may overwrite.
//
// The driver, which runs in the workflow and may do no I/O, cannot read a
// stored result: Wait returns an error wrapping ErrStored. Hand such results
// to tasks instead, and return small ones from the driver.
type Store interface {
	Put(ctx context.Context, key string, data []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
}

// ErrStored is the error of a driver's Wait for a result kept in a Store.
var ErrStored = errors.New("result is kept in the Store (too large to travel inline): read it in a task")

// DirStore is a Store in a directory: one file per result.
type DirStore string

func (d DirStore) path(key string) (string, error) {
	if key == "" || strings.Contains(key, "..") {
		return "", fmt.Errorf("evolve/temporal: DirStore: bad key %q", key)
	}
	return filepath.Join(string(d), filepath.FromSlash(key)), nil
}

// Put writes data under key.
func (d DirStore) Put(_ context.Context, key string, data []byte) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// Get reads what Put wrote under key.
func (d DirStore) Get(_ context.Context, key string) ([]byte, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// storedRef is how a stored result travels: a JSON object that no encoded
// value of a registered type starts with, since its key is not an exported
// Go field name.
type storedRef struct {
	Key  string `json:"$evolve.stored"`
	Size int    `json:"size"`
}

var storedPrefix = []byte(`{"$evolve.stored":`)

func isStored(raw json.RawMessage) (storedRef, bool) {
	if !bytes.HasPrefix(raw, storedPrefix) {
		return storedRef{}, false
	}
	var r storedRef
	if json.Unmarshal(raw, &r) != nil {
		return storedRef{}, false
	}
	return r, true
}
