// Package apicheck guards evolve's exported API: its golden files show
// every change to it in review (as Go's own api/*.txt do), and a check
// fails when an exported declaration, or its doc, shows an internal
// package.
package apicheck

import (
	"bytes"
	"flag"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/api/*.txt from the packages' APIs")

// packages are the public packages, relative to the module's root.
var packages = []string{"graph", "exec", "dynamic", "viz"}

const module = "github.com/evolve-dag/evolve"

// TestAPIGolden compares each package's exported API, one declaration per
// entry without docs, with testdata/api/<pkg>.txt; -update rewrites them.
func TestAPIGolden(t *testing.T) {
	for _, name := range packages {
		t.Run(name, func(t *testing.T) {
			p, fset, _ := load(t, name)
			got := dump(t, p, fset)
			path := filepath.Join("testdata", "api", name+".txt")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/apicheck -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("the API of %s changed; if that is meant, run go test ./internal/apicheck -update and review the diff.\ngot:\n%s", name, got)
			}
		})
	}
}

// internalDoc matches a doc that names an internal package's identifier.
var internalDoc = regexp.MustCompile(`internal/|\b(core|access)\.[A-Z]`)

// TestNoInternalInAPI fails for every exported declaration whose signature
// uses a package under internal/, or whose doc names one.
func TestNoInternalInAPI(t *testing.T) {
	for _, name := range packages {
		p, fset, files := load(t, name)
		if internalDoc.MatchString(p.Doc) {
			t.Errorf("%s: the package doc names an internal package: %q", name, internalDoc.FindString(p.Doc))
		}
		each(p, func(what string, node ast.Node, docText string) {
			if internalDoc.MatchString(docText) {
				t.Errorf("%s.%s: its doc names an internal package: %q", name, what, internalDoc.FindString(docText))
			}
			imports := importsOf(files, fset, node)
			ast.Inspect(node, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && strings.Contains(imports[id.Name], "/internal/") {
					t.Errorf("%s.%s: its declaration uses %s.%s (%s)", name, what, id.Name, sel.Sel.Name, imports[id.Name])
				}
				return true
			})
		})
	}
}

// load parses the non-test files of the package in dir (relative to the
// module root) and returns its exported API.
func load(t *testing.T, dir string) (*doc.Package, *token.FileSet, []*ast.File) {
	t.Helper()
	root := filepath.Join("..", "..", dir)
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(root, e.Name()), nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	p, err := doc.NewFromFiles(fset, files, module+"/"+dir)
	if err != nil {
		t.Fatal(err)
	}
	return p, fset, files
}

// each calls f for every exported declaration of p: its name, its
// declaration (without doc or body) and its doc.
func each(p *doc.Package, f func(what string, node ast.Node, docText string)) {
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			f(strings.Join(v.Names, ","), v.Decl, v.Doc)
		}
	}
	funcs := func(prefix string, fs []*doc.Func) {
		for _, fn := range fs {
			f(prefix+fn.Name, fn.Decl, fn.Doc)
		}
	}
	values(p.Consts)
	values(p.Vars)
	funcs("", p.Funcs)
	for _, ty := range p.Types {
		f(ty.Name, ty.Decl, ty.Doc)
		values(ty.Consts)
		values(ty.Vars)
		funcs("", ty.Funcs)
		funcs(ty.Name+".", ty.Methods)
	}
}

// dump prints p's API: the package's doc summary, then each exported
// declaration, docs and bodies left out, in go doc's order.
func dump(t *testing.T, p *doc.Package, fset *token.FileSet) []byte {
	t.Helper()
	var out bytes.Buffer
	out.WriteString("package " + p.Name + " // import \"" + p.ImportPath + "\"\n")
	var entries []string
	each(p, func(what string, node ast.Node, _ string) {
		var b bytes.Buffer
		cfg := printer.Config{Mode: printer.UseSpaces | printer.TabIndent, Tabwidth: 8}
		if err := cfg.Fprint(&b, fset, strip(node)); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, b.String())
	})
	for _, e := range entries {
		out.WriteString("\n" + e + "\n")
	}
	return out.Bytes()
}

// strip returns a copy of a declaration without docs, comments or bodies.
func strip(node ast.Node) ast.Node {
	switch d := node.(type) {
	case *ast.FuncDecl:
		c := *d
		c.Doc, c.Body = nil, nil
		return &c
	case *ast.GenDecl:
		c := *d
		c.Doc = nil
		c.Specs = slices.Clone(d.Specs)
		for i, s := range c.Specs {
			switch s := s.(type) {
			case *ast.ValueSpec:
				v := *s
				v.Doc, v.Comment = nil, nil
				c.Specs[i] = &v
			case *ast.TypeSpec:
				ts := *s
				ts.Doc, ts.Comment = nil, nil
				ts.Type = stripFields(s.Type)
				c.Specs[i] = &ts
			}
		}
		return &c
	}
	return node
}

// stripFields drops the comments of a struct's or interface's fields.
func stripFields(e ast.Expr) ast.Expr {
	switch x := e.(type) {
	case *ast.StructType:
		c := *x
		c.Fields = stripList(x.Fields)
		return &c
	case *ast.InterfaceType:
		c := *x
		c.Methods = stripList(x.Methods)
		return &c
	}
	return e
}

func stripList(fl *ast.FieldList) *ast.FieldList {
	if fl == nil {
		return nil
	}
	cp := *fl
	cp.List = make([]*ast.Field, len(fl.List))
	for i, f := range fl.List {
		g := *f
		g.Doc, g.Comment = nil, nil
		cp.List[i] = &g
	}
	return &cp
}

// importsOf maps the import names of the file that holds node to their paths.
func importsOf(files []*ast.File, fset *token.FileSet, node ast.Node) map[string]string {
	m := map[string]string{}
	file := fset.File(node.Pos())
	for _, f := range files {
		if fset.File(f.Pos()) != file {
			continue
		}
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			name := path[strings.LastIndex(path, "/")+1:]
			if im.Name != nil {
				name = im.Name.Name
			}
			m[name] = path
		}
	}
	return m
}
