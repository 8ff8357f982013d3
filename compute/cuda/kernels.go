package cuda

import (
	"embed"
	"sort"
	"strings"
)

// The CUDA C sources. prelude.cuh is prepended to each .cu file; all files
// are compiled as one module.
//
//go:embed kernels/*.cu kernels/prelude.cuh
var kernelFS embed.FS

// kernelFiles lists the embedded .cu files, sorted.
func kernelFiles() []string {
	ents, err := kernelFS.ReadDir("kernels")
	if err != nil {
		panic(err) // embedded at build time
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".cu") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

func mustRead(name string) string {
	b, err := kernelFS.ReadFile("kernels/" + name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// kernelSource is the prelude followed by the named .cu files (all when
// none are named): the text NVRTC compiles.
func kernelSource(files ...string) string {
	if len(files) == 0 {
		files = kernelFiles()
	}
	var sb strings.Builder
	sb.WriteString(mustRead("prelude.cuh"))
	for _, f := range files {
		sb.WriteString("\n// ---- " + f + "\n")
		sb.WriteString(mustRead(f))
	}
	return sb.String()
}

// nvrtcOptions are the compile options for a target ("sm_90" for a CUBIN,
// "compute_90" for PTX): the architecture alone, so that every NVRTC from
// 11.2 to 13 accepts them. NVRTC's defaults (precise division and square
// roots, FMA contraction) keep AdamW and LayerNorm close to the CPU backend.
func nvrtcOptions(target string) []string {
	return []string{"--gpu-architecture=" + target}
}
