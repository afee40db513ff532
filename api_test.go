package gorpo

import (
	"bufio"
	"bytes"
	"fmt"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// publicPackages are the packages an outside Go program imports: their exported API must not
// mention a type it cannot name.
var publicPackages = []string{
	"github.com/gorpo/gorpo",
	"github.com/gorpo/gorpo/schedule",
	"github.com/gorpo/gorpo/diffusion",
	"github.com/gorpo/gorpo/align",
	"github.com/gorpo/gorpo/reward",
	"github.com/gorpo/gorpo/preference",
	"github.com/gorpo/gorpo/rpo",
	"github.com/gorpo/gorpo/align/clip",
	"github.com/gorpo/gorpo/diffusion/diffusiontest",
	"github.com/gorpo/gorpo/reward/rewardtest",
	"github.com/gorpo/gorpo/rpo/report",
}

// TestPublicAPIHasNoInternalTypes walks every exported identifier of the public packages with
// go/types (functions, variables, constants, types, their exported fields and the method sets
// of T and *T, aliases resolved) and fails on any signature that mentions a type declared under
// an internal/ folder: an outside program could call such a function but not name what it takes
// or returns. The packages are read from the compiler's export data (go list -export), so the
// check needs nothing beyond the standard library and the go command.
func TestPublicAPIHasNoInternalTypes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the public packages' export data")
	}
	exports, err := listExports(publicPackages)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok || file == "" {
			return nil, fmt.Errorf("no export data for %q", path)
		}
		return os.Open(file)
	})
	for _, path := range publicPackages {
		pkg, err := imp.Import(path)
		if err != nil {
			t.Fatalf("import %s: %v", path, err)
		}
		for _, finding := range internalInAPI(pkg) {
			t.Errorf("%s", finding)
		}
	}
}

// listExports maps every package in the dependency graph of pkgs to its export-data file.
func listExports(pkgs []string) (map[string]string, error) {
	args := append([]string{"list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}"}, pkgs...)
	cmd := exec.Command("go", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -export: %v\n%s", err, stderr.String())
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, file, _ := strings.Cut(sc.Text(), "\t")
		m[path] = file
	}
	return m, sc.Err()
}

// isInternal reports whether a package path has an internal/ element.
func isInternal(path string) bool {
	return strings.Contains(path, "/internal/") || strings.HasSuffix(path, "/internal") ||
		strings.HasPrefix(path, "internal/")
}

// internalInAPI lists, sorted, "pkg.Ident: mentions internal/pkg.Type" for every exported
// identifier of pkg whose API mentions a type from an internal package.
func internalInAPI(pkg *types.Package) []string {
	var findings []string
	report := func(where string, typ types.Type) {
		for _, name := range internalNames(typ) {
			findings = append(findings, fmt.Sprintf("%s.%s: mentions %s", pkg.Name(), where, name))
		}
	}
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		switch obj := obj.(type) {
		case *types.TypeName:
			if obj.IsAlias() {
				report(name+" (alias)", types.Unalias(obj.Type()))
				continue
			}
			named, ok := obj.Type().(*types.Named)
			if !ok {
				continue
			}
			report(name, named.Underlying())
			for _, recv := range []types.Type{named, types.NewPointer(named)} {
				ms := types.NewMethodSet(recv)
				for i := range ms.Len() {
					m := ms.At(i).Obj()
					if m.Exported() {
						report(name+"."+m.Name(), m.Type())
					}
				}
			}
		default:
			report(name, obj.Type())
		}
	}
	sort.Strings(findings)
	return dedupe(findings)
}

func dedupe(s []string) []string {
	var out []string
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// internalNames returns the internal named types that typ's exported surface mentions. Named types
// from other packages stop the walk (their own package is checked on its own, or is not ours);
// unexported struct fields are not part of the API.
func internalNames(typ types.Type) []string {
	var names []string
	seen := map[types.Type]bool{}
	var walk func(types.Type)
	walk = func(typ types.Type) {
		if typ == nil || seen[typ] {
			return
		}
		seen[typ] = true
		switch t := typ.(type) {
		case *types.Alias:
			walk(types.Unalias(t))
		case *types.Named:
			if p := t.Obj().Pkg(); p != nil && isInternal(p.Path()) {
				names = append(names, p.Path()+"."+t.Obj().Name())
			}
			if args := t.TypeArgs(); args != nil {
				for i := range args.Len() {
					walk(args.At(i))
				}
			}
		case *types.Pointer:
			walk(t.Elem())
		case *types.Slice:
			walk(t.Elem())
		case *types.Array:
			walk(t.Elem())
		case *types.Map:
			walk(t.Key())
			walk(t.Elem())
		case *types.Chan:
			walk(t.Elem())
		case *types.Signature:
			for _, tuple := range []*types.Tuple{t.Params(), t.Results()} {
				for i := range tuple.Len() {
					walk(tuple.At(i).Type())
				}
			}
		case *types.Struct:
			for i := range t.NumFields() {
				if f := t.Field(i); f.Exported() {
					walk(f.Type())
				}
			}
		case *types.Interface:
			for i := range t.NumMethods() {
				walk(t.Method(i).Type())
			}
		case *types.TypeParam:
			walk(t.Constraint())
		}
	}
	walk(typ)
	return names
}

// TestCoreTrainerLinksNoPlotOrTerminal keeps the plotting stack, the terminal module and XLA out
// of package rpo's dependencies: a program that embeds a Trainer in a service links none of them
// and builds without cgo. The reward curve is drawn by rpo/report; rpo tests for a terminal with
// the standard library; XLA (go-xla, which brings cgo and its plugin installer with
// golang.org/x/term) is linked by the programs that import rpo/xla.
func TestCoreTrainerLinksNoPlotOrTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}\t{{join .Imports \" \"}}", "github.com/gorpo/gorpo/rpo")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, stderr.String())
	}
	importers := map[string][]string{} // a dependency → the packages that import it
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, imports, _ := strings.Cut(sc.Text(), "\t")
		for _, imp := range strings.Fields(imports) {
			importers[imp] = append(importers[imp], path)
		}
	}
	within := func(path, module string) bool { return path == module || strings.HasPrefix(path, module+"/") }
	for dep, by := range importers {
		for _, banned := range []string{"gonum.org/v1/plot", "golang.org/x/term", "github.com/gomlx/go-xla"} {
			if !within(dep, banned) {
				continue
			}
			for _, from := range by { // the edges into the banned module, not those inside it
				if !within(from, banned) {
					t.Errorf("rpo depends on %s: %s imports %s", banned, from, dep)
				}
			}
		}
	}
}
