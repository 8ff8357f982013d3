//go:build linux && (amd64 || arm64)

package cuda

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A Go callback cannot stand in for a C function here (it needs cgo), so
// the stack-move hazard itself cannot be reproduced; this checks the
// source instead: call carries //go:uintptrescapes, and no pointer meant
// for C is turned into a uintptr outside a call expression, where the
// directive would not see it.
func TestCallKeepsPointerArgsOnHeap(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	sawDirective := false
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncDecl:
				if n.Name.Name == "newKargs" {
					return false // pointers into its own heap object
				}
				if n.Name.Name == "call" && n.Recv == nil && n.Doc != nil {
					for _, c := range n.Doc.List {
						if c.Text == "//go:uintptrescapes" {
							sawDirective = true
						}
					}
				}
			case *ast.AssignStmt:
				for _, r := range n.Rhs {
					if isPtrToUintptr(r) {
						t.Errorf("%s: a pointer converted to uintptr outside a call to call", fset.Position(r.Pos()))
					}
				}
			case *ast.ValueSpec:
				for _, r := range n.Values {
					if isPtrToUintptr(r) {
						t.Errorf("%s: a pointer converted to uintptr outside a call to call", fset.Position(r.Pos()))
					}
				}
			}
			return true
		})
	}
	if !sawDirective {
		t.Error("func call has no //go:uintptrescapes directive")
	}
}

// isPtrToUintptr matches uintptr(unsafe.Pointer(...)) and
// uintptr(unsafePointer(...)).
func isPtrToUintptr(e ast.Expr) bool {
	c, ok := e.(*ast.CallExpr)
	if !ok || len(c.Args) != 1 {
		return false
	}
	if id, ok := c.Fun.(*ast.Ident); !ok || id.Name != "uintptr" {
		return false
	}
	in, ok := c.Args[0].(*ast.CallExpr)
	if !ok {
		return false
	}
	switch f := in.Fun.(type) {
	case *ast.SelectorExpr:
		return f.Sel.Name == "Pointer"
	case *ast.Ident:
		return f.Name == "unsafePointer"
	}
	return false
}

func TestResultOfIgnoresUpperBits(t *testing.T) {
	for _, c := range []struct {
		raw  uintptr
		want cuResult
	}{
		{0, 0}, {0xdeadbeef00000000, 0}, {0xdeadbeef00000001, 1}, {0xffffffff00000064, cudaErrorNoDevice},
	} {
		if got := resultOf(c.raw); got != c.want {
			t.Errorf("resultOf(%#x) = %d, want %d", c.raw, got, c.want)
		}
	}
	if s := cublasErrString(resultOf(0xdeadbeef00000007)); s != "CUBLAS_STATUS_INVALID_VALUE" {
		t.Errorf("cublasErrString of status 7 with garbage upper bits = %q", s)
	}
}

// Every device allocation the backend holds itself, and every handle,
// must be released by closeLocked (no GPU here to count leaks).
func TestCloseReleasesEverything(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "backend.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"fault": true, "partials": true, "blas": true, "mod": true, "ctx": true}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.TypeSpec:
			if st, ok := n.Type.(*ast.StructType); ok && n.Name.Name == "Backend" {
				for _, fl := range st.Fields.List {
					if sel, ok := fl.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "F32" {
						for _, nm := range fl.Names {
							want[nm.Name] = true
						}
					}
				}
			}
		case *ast.FuncDecl:
			if n.Name.Name == "closeLocked" {
				ast.Inspect(n.Body, func(m ast.Node) bool {
					if sel, ok := m.(*ast.SelectorExpr); ok {
						if id, ok := sel.X.(*ast.Ident); ok && id.Name == "b" {
							used[sel.Sel.Name] = true
						}
					}
					return true
				})
			}
		}
		return true
	})
	for name := range want {
		if !used[name] {
			t.Errorf("closeLocked does not release Backend.%s", name)
		}
	}
}

// A closed (or never opened) backend closes again without calling C.
func TestCloseTwiceIsNoop(t *testing.T) {
	var b Backend
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSharedMemoryCountsStatic: decode attention has 256 static bytes
// beside its 8*Tk dynamic ones; at Tk = 6144 the total passes 48 KiB and
// needs the opt-in although the dynamic part alone does not, and past the
// opt-in maximum it is refused before the launch.
func TestSharedMemoryCountsStatic(t *testing.T) {
	const optin = 227 * 1024 // an H100's
	for _, c := range []struct {
		static, dynamic int
		optIn, err      bool
	}{
		{256, 8 * 6112, false, false},
		{256, 8 * 6144, true, false}, // the dynamic bytes alone fit 48 KiB
		{0, 8 * 6144, false, false},
		{256, optin - 256, true, false},
		{256, optin - 255, false, true},
		{0, 0, false, false},
	} {
		optIn, err := sharedMemory("attn_decode", c.static, c.dynamic, optin)
		if optIn != c.optIn || (err != nil) != c.err {
			t.Errorf("static %d dynamic %d: opt-in %v err %v, want %v %v", c.static, c.dynamic, optIn, err, c.optIn, c.err)
		}
	}
}

func TestCheckArgs(t *testing.T) {
	a := newKargs()
	a.reset().ptr(1).i32(2).f32(3).i64(4).f64(5)
	got := a.size[:a.n]
	if err := checkArgs("k", []int{8, 4, 4, 8, 8}, got); err != nil {
		t.Error(err)
	}
	if err := checkArgs("k", nil, got); err != nil {
		t.Errorf("unknown parameters: %v", err)
	}
	if err := checkArgs("k", []int{8, 4, 4, 8}, got); err == nil || !strings.Contains(err.Error(), "takes 4 parameters; the launch passes 5") {
		t.Errorf("count: %v", err)
	}
	if err := checkArgs("k", []int{8, 8, 4, 8, 8}, got); err == nil || !strings.Contains(err.Error(), "parameter 1 is 8 bytes; the launch passes 4") {
		t.Errorf("size: %v", err)
	}
}
