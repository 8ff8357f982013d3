package cuda

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// kernelSignatures parses the extern "C" kernels of the embedded sources
// into name -> parameter kinds (ptr, i32, i64, f32, f64), expanding the
// ATTN_ENTRIES macro for each head-dim bound it is instantiated with.
func kernelSignatures(t *testing.T) map[string][]string {
	t.Helper()
	src := strings.ReplaceAll(kernelSource(), "\\\n", " ")
	sigs := map[string][]string{}
	re := regexp.MustCompile(`extern "C" __global__ void (\w+(?:##HD)?)\(([^)]*)\)`)
	inst := regexp.MustCompile(`(?m)^ATTN_ENTRIES\((\d+),`).FindAllStringSubmatch(src, -1)
	for _, m := range re.FindAllStringSubmatch(src, -1) {
		var kinds []string
		for _, p := range strings.Split(m[2], ",") {
			f := strings.Fields(strings.TrimSpace(p))
			if len(f) < 2 {
				t.Fatalf("kernel %s: cannot parse parameter %q", m[1], p)
			}
			typ := strings.Join(f[:len(f)-1], " ")
			switch {
			case strings.Contains(p, "*"):
				kinds = append(kinds, "ptr")
			case typ == "int":
				kinds = append(kinds, "i32")
			case typ == "long long":
				kinds = append(kinds, "i64")
			case typ == "float":
				kinds = append(kinds, "f32")
			case typ == "double":
				kinds = append(kinds, "f64")
			default:
				t.Fatalf("kernel %s: parameter type %q not handled", m[1], typ)
			}
		}
		if strings.HasSuffix(m[1], "##HD") {
			for _, hd := range inst {
				sigs[strings.TrimSuffix(m[1], "##HD")+hd[1]] = kinds
			}
			continue
		}
		sigs[m[1]] = kinds
	}
	return sigs
}

// TestLaunchArgsMatchKernels checks, without a GPU, that every launch in
// ops.go names a kernel that exists and passes parameters of the kinds
// and number the kernel declares: a mismatch there would read garbage on
// the device rather than fail to compile.
func TestLaunchArgsMatchKernels(t *testing.T) {
	sigs := kernelSignatures(t)
	if len(sigs) < 20 {
		t.Fatalf("parsed only %d kernels", len(sigs))
	}
	for _, hd := range []int{16, 32, 64, 128} {
		for _, k := range []string{"attn_forward_", "attn_bwd_dq_", "attn_bwd_dkv_"} {
			if _, ok := sigs[k+itoa(hd)]; !ok {
				t.Errorf("kernel %s%d not instantiated", k, hd)
			}
		}
	}
	code, err := os.ReadFile("ops.go")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(code), "\n")
	argRe := regexp.MustCompile(`\.(f32p|i32p|ptr|i32|i64|f32|f64)\(`)
	nameRe := regexp.MustCompile(`b\.launch1?\((?:fmt\.Sprintf\()?"([a-z_0-9%]+)"`)
	kind := map[string]string{"f32p": "ptr", "i32p": "ptr", "ptr": "ptr", "i32": "i32", "i64": "i64", "f32": "f32", "f64": "f64"}
	checked := map[string]bool{}
	for i, l := range lines {
		if !strings.Contains(l, "b.args.reset()") {
			continue
		}
		var got []string
		for _, m := range argRe.FindAllStringSubmatch(l, -1) {
			got = append(got, kind[m[1]])
		}
		name := ""
		for j := i + 1; j < len(lines) && j < i+4 && name == ""; j++ {
			if m := nameRe.FindStringSubmatch(lines[j]); m != nil {
				name = m[1]
			}
		}
		if name == "" {
			t.Errorf("ops.go:%d: no launch after the argument list", i+1)
			continue
		}
		names := []string{name}
		if strings.Contains(name, "%d") {
			names = nil
			for _, hd := range []string{"16", "32", "64", "128"} {
				names = append(names, strings.Replace(name, "%d", hd, 1))
			}
		}
		for _, n := range names {
			want, ok := sigs[n]
			if !ok {
				t.Errorf("ops.go:%d launches %s, which no kernel file defines", i+1, n)
				continue
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("ops.go:%d %s: passes (%s), kernel takes (%s)", i+1, n, strings.Join(got, ","), strings.Join(want, ","))
			}
			checked[n] = true
		}
	}
	for n := range sigs {
		if !checked[n] {
			t.Errorf("kernel %s is never launched", n)
		}
	}
	if got := len(argRe.FindAllString(`.f32p(x).i32(3).f64(1)`, -1)); got != 3 {
		t.Errorf("argument regexp broken: %d matches", got)
	}
}

func itoa(n int) string { return fmt.Sprint(n) }
