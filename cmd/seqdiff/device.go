package main

// deviceHelp is the --device flag's help on every command that builds a
// backend (the backend is opened by modelBackend, bench_device.go).
const deviceHelp = "compute device: auto (the GPU when CUDA loads and a device exists, else the CPU), cpu, cuda or cuda:N; SEQDIFF_TF32=1 lets cuBLAS use TF32"
