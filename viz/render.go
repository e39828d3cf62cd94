package viz

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/emicklei/dot"
	"github.com/evolve-dag/evolve/graph"
)

// dotProgram is graphviz's layout program for directed graphs.
const dotProgram = "dot"

// Render lays d out with graphviz's dot program and writes it to w in the
// given output format ("svg", "png", "pdf", or any other that `dot -T`
// accepts). The program is looked up in PATH; when it is missing the error
// says so and wraps os/exec.ErrNotFound, so errors.Is(err,
// exec.ErrNotFound) with the standard library's os/exec tells a missing graphviz from a failed layout. Cancelling ctx kills the
// program.
func Render(ctx context.Context, w io.Writer, d *dot.Graph, format string) error {
	switch {
	case ctx == nil:
		return errors.New("viz: render: nil context")
	case isNil(w):
		return errors.New("viz: render: nil writer")
	case d == nil:
		return errors.New("viz: render: nil *dot.Graph")
	case format == "" || strings.HasPrefix(format, "-"):
		return fmt.Errorf("viz: render: bad output format %q", format)
	}
	var src bytes.Buffer
	d.Write(&src)
	cmd := osexec.CommandContext(ctx, dotProgram, "-T"+format)
	if errors.Is(cmd.Err, osexec.ErrNotFound) {
		return fmt.Errorf("viz: rendering %s needs graphviz's %q program, which is not in PATH (install graphviz: apt-get install graphviz, brew install graphviz): %w",
			format, dotProgram, cmd.Err)
	}
	var stderr bytes.Buffer
	cmd.Stdin = &src
	cmd.Stdout = w
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("viz: render %s: %w", format, ctxErr)
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return fmt.Errorf("viz: render %s: %s: %w", format, dotProgram, err)
		}
		return fmt.Errorf("viz: render %s: %s: %w: %s", format, dotProgram, err, firstLine(msg, 500))
	}
	return nil
}

// WriteFile writes d to path in the format its extension names: DOT
// source for .dot and .gv, anything else (.svg, .png, .pdf, …) rendered by
// graphviz as Render does. On failure no partial file is left behind.
func WriteFile(ctx context.Context, path string, d *dot.Graph) error {
	ext := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	switch {
	case ctx == nil:
		return fmt.Errorf("viz: %s: nil context", path)
	case d == nil:
		return fmt.Errorf("viz: %s: nil *dot.Graph", path)
	}
	switch ext {
	case "":
		return fmt.Errorf("viz: %s: no extension to tell the format by", path)
	case "dot", "gv":
		return writeAtomic(path, func(w io.Writer) error { d.Write(w); return nil })
	}
	return writeAtomic(path, func(w io.Writer) error { return Render(ctx, w, d, ext) })
}

// isNil reports whether w is nil or holds a nil pointer (or other nil
// reference), which would panic on the first write.
func isNil(w io.Writer) bool {
	if w == nil {
		return true
	}
	switch v := reflect.ValueOf(w); v.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Slice, reflect.Chan, reflect.Interface, reflect.UnsafePointer:
		return v.IsNil()
	}
	return false
}

// writeAtomic writes a file through a temporary one in the same directory,
// renamed into place on success, so readers never see half a file.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("viz: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("viz: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("viz: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("viz: %w", err)
	}
	return nil
}

// WriteFiles writes what a run of g left, for a look after the fact:
//
//   - prefix.dot, the graph as it evolved (DOT with States(rec) and opts);
//   - prefix.svg, the same laid out, when graphviz is installed;
//   - prefix.trace.json, rec's timeline (see WriteTrace), when rec is not nil.
//
// prefix must name a file: it is neither empty nor a directory's name
// ending in a separator. WriteFiles creates prefix's directory if needed
// and returns the paths it wrote.
// A missing graphviz is not an error here, only a missing SVG: the returned
// paths tell. Any other failure stops it and is returned.
func WriteFiles(ctx context.Context, g *graph.Graph, rec *Recorder, prefix string, opts ...Option) ([]string, error) {
	switch {
	case ctx == nil:
		return nil, errors.New("viz: WriteFiles: nil context")
	case g == nil:
		return nil, errors.New("viz: WriteFiles: nil graph")
	case prefix == "" || strings.HasSuffix(prefix, "/") || strings.HasSuffix(prefix, string(filepath.Separator)):
		return nil, fmt.Errorf("viz: WriteFiles: prefix %q names no file", prefix)
	}
	d, err := DOT(g, append([]Option{States(rec)}, opts...)...)
	if err != nil {
		return nil, err
	}
	if dir := filepath.Dir(prefix); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("viz: %w", err)
		}
	}
	var wrote []string
	if err := WriteFile(ctx, prefix+".dot", d); err != nil {
		return wrote, err
	}
	wrote = append(wrote, prefix+".dot")
	switch err := WriteFile(ctx, prefix+".svg", d); {
	case err == nil:
		wrote = append(wrote, prefix+".svg")
	case !errors.Is(err, osexec.ErrNotFound):
		return wrote, err
	}
	if rec != nil {
		err := writeAtomic(prefix+".trace.json", rec.WriteTrace)
		if err != nil {
			return wrote, err
		}
		wrote = append(wrote, prefix+".trace.json")
	}
	return wrote, nil
}
