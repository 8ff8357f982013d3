// nvrtc.cpp: the NVRTC stand-in. A program compiles in three steps:
//  1. the system C++ compiler preprocesses it with emu_macros.h, which
//     removes the CUDA keywords but keeps __global__ and __shared__;
//  2. rewrite() finds the kernels by __global__ and turns each __shared__
//     declaration into a reference to the launch's per-block arena, then
//     appends a table of kernels (name, entry, parameter sizes, static
//     shared bytes) that the driver reads;
//  3. the compiler builds that, with cuda_builtins.h, into a shared object:
//     the "CUBIN" (for sm_XX), or a text "PTX" carrying it (compute_XX).
// The log is the compiler's, with the file names of the program.
#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "internal.h"

extern char** environ;

namespace emu {

enum NvCode : int {
    kNvSuccess = 0,
    kNvInvalidInput = 3,
    kNvInvalidProgram = 4,
    kNvInvalidOption = 5,
    kNvCompilation = 6,
    kNvBuiltinFailed = 7,
};

static const int kArchs[] = {75, 80, 86, 89, 90};

struct Program {
    std::string src, name, log, image, target;
    std::vector<std::string> kernels;
    bool compiled = false, ptx = false;
};

static bool is_id0(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_id(char c) { return is_id0(c) || (c >= '0' && c <= '9'); }

// Scanner over preprocessed C++: skips string and character literals and
// line markers (# lines), so identifiers and brackets are code.
struct Scanner {
    const std::string& s;
    explicit Scanner(const std::string& t) : s(t) {}
    // skip returns the position after a literal or directive starting at i,
    // or i when there is none.
    size_t skip(size_t i) const {
        char c = s[i];
        if (c == '"' || c == '\'') {
            size_t j = i + 1;
            while (j < s.size() && s[j] != c) j += s[j] == '\\' ? 2 : 1;
            return j + 1;
        }
        if (c == '#' && (i == 0 || s[i - 1] == '\n')) {
            size_t j = s.find('\n', i);
            return j == std::string::npos ? s.size() : j;
        }
        return i;
    }
    // match returns the position of the bracket closing the one at i.
    size_t match(size_t i) const {
        char open = s[i], close = open == '(' ? ')' : open == '{' ? '}' : ']';
        int depth = 0;
        for (size_t j = i; j < s.size();) {
            size_t k = skip(j);
            if (k != j) {
                j = k;
                continue;
            }
            if (s[j] == open) depth++;
            if (s[j] == close && --depth == 0) return j;
            j++;
        }
        return std::string::npos;
    }
};

struct Kernel {
    std::string name;
    size_t body_lo, body_hi;
    unsigned static_bytes = 0;
};

static std::string trim(const std::string& s) {
    size_t a = s.find_first_not_of(" \t\n\r"), b = s.find_last_not_of(" \t\n\r");
    return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

// literal_bytes is sizeof(type dims) when the type is a known one and the
// dims integer literals; 0 (unknown) otherwise.
static unsigned literal_bytes(const std::string& type, const std::string& dims) {
    static const struct {
        const char* t;
        unsigned n;
    } known[] = {{"char", 1}, {"unsigned char", 1}, {"short", 2}, {"int", 4}, {"unsigned", 4}, {"unsigned int", 4}, {"float", 4},
                 {"double", 8}, {"long long", 8}, {"unsigned long long", 8}, {"float2", 8}, {"float4", 16}, {"int2", 8}, {"int4", 16}};
    std::string t = type;
    for (const char* q : {"volatile ", "const "})
        if (t.compare(0, strlen(q), q) == 0) t = trim(t.substr(strlen(q)));
    unsigned n = 0;
    for (auto& k : known)
        if (t == k.t) n = k.n;
    if (!n) return 0;
    for (size_t i = 0; i < dims.size();) {
        if (dims[i] != '[') return 0;
        size_t j = dims.find(']', i);
        std::string d = trim(dims.substr(i + 1, j - i - 1));
        char* end;
        unsigned long v = strtoul(d.c_str(), &end, 0);
        if (d.empty() || *end) return 0;
        n *= (unsigned)v;
        i = j + 1;
        while (i < dims.size() && dims[i] == ' ') i++;
    }
    return n;
}

// rewrite turns preprocessed CUDA into the C++ the emulator compiles; it
// returns false with a message in err for what it cannot handle.
static bool rewrite(const std::string& in, std::string* out, std::vector<std::string>* names, std::string* err) {
    Scanner sc(in);
    std::vector<Kernel> kernels;
    struct Edit {
        size_t lo, hi;
        std::string text;
    };
    std::vector<Edit> edits;
    int key = 0;
    for (size_t i = 0; i < in.size();) {
        size_t k = sc.skip(i);
        if (k != i) {
            i = k;
            continue;
        }
        if (!is_id0(in[i]) || (i > 0 && is_id(in[i - 1]))) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < in.size() && is_id(in[j])) j++;
        std::string id = in.substr(i, j - i);
        if (id == "__global__") {
            edits.push_back({i, j, ""});
            size_t p = in.find('(', j);
            if (p == std::string::npos) break;
            size_t q = p;
            while (q > j && (in[q - 1] == ' ' || in[q - 1] == '\n' || in[q - 1] == '\t')) q--;
            size_t b = q;
            while (b > j && is_id(in[b - 1])) b--;
            Kernel kn;
            kn.name = in.substr(b, q - b);
            size_t close = sc.match(p);
            if (close == std::string::npos) {
                *err = "unbalanced parentheses after __global__ " + kn.name;
                return false;
            }
            size_t brace = in.find_first_of("{;", close);
            if (brace != std::string::npos && in[brace] == '{') {
                kn.body_lo = brace;
                kn.body_hi = sc.match(brace);
                kernels.push_back(kn);
            }
        } else if (id == "__shared__") {
            size_t lo = i;
            size_t e = i;
            while (e > 0 && (in[e - 1] == ' ' || in[e - 1] == '\t' || in[e - 1] == '\n')) e--;
            bool ext = e >= 6 && in.compare(e - 6, 6, "extern") == 0 && (e == 6 || !is_id(in[e - 7]));
            if (ext) lo = e - 6;
            size_t semi = in.find(';', j);
            if (semi == std::string::npos) {
                *err = "__shared__ declaration without ';'";
                return false;
            }
            std::string decl = trim(in.substr(j, semi - j));
            if (decl.find(',') != std::string::npos || decl.find('=') != std::string::npos) {
                *err = "the emulator takes one __shared__ variable per declaration, without an initializer: " + decl;
                return false;
            }
            size_t br = decl.find('[');
            std::string head = trim(decl.substr(0, br)), dims = br == std::string::npos ? "" : decl.substr(br);
            size_t nb = head.size();
            while (nb > 0 && is_id(head[nb - 1])) nb--;
            std::string name = head.substr(nb), type = trim(head.substr(0, nb));
            if (name.empty() || type.empty()) {
                *err = "cannot read the __shared__ declaration: " + decl;
                return false;
            }
            std::string text;
            if (ext) {
                if (trim(dims) != "[]") {
                    *err = "extern __shared__ must be an unsized array: " + decl;
                    return false;
                }
                text = type + "* const " + name + " = reinterpret_cast<" + type + "*>(emu_shared_dynamic());";
            } else if (dims.empty()) {
                text = type + "& " + name + " = *reinterpret_cast<" + type + "*>(emu_shared_static(" + std::to_string(key) + ", sizeof(" + type +
                       "), alignof(" + type + ")));";
            } else {
                text = type + " (&" + name + ")" + dims + " = *reinterpret_cast<" + type + "(*)" + dims + ">(emu_shared_static(" +
                       std::to_string(key) + ", sizeof(" + type + " " + dims + "), alignof(" + type + ")));";
            }
            key++;
            // keep the line count, so the compiler's messages point at the source
            for (size_t c = lo; c <= semi; c++)
                if (in[c] == '\n') text += '\n';
            edits.push_back({lo, semi + 1, text});
            if (!ext)
                for (auto& kn : kernels)
                    if (lo > kn.body_lo && lo < kn.body_hi) kn.static_bytes += literal_bytes(type, dims);
        }
        i = j;
    }
    names->clear();
    for (auto& kn : kernels) names->push_back(kn.name);
    out->clear();
    size_t at = 0;
    for (auto& e : edits) {
        out->append(in, at, e.lo - at);
        out->append(e.text);
        at = e.hi;
    }
    out->append(in, at, std::string::npos);
    std::string& o = *out;
    o += "\n// ---- cuda-emu: the kernel table\nextern \"C\" {\n";
    for (auto& kn : kernels) o += "void emu_k_" + kn.name + "(void** p) { emu_invoke(&" + kn.name + ", p); }\n";
    o += "emu_kernel_desc emu_kernels[] = {\n";
    for (auto& kn : kernels) {
        std::string sig = "decltype(emu_sig_of(&" + kn.name + "))";
        o += "    {\"" + kn.name + "\", emu_k_" + kn.name + ", " + sig + "::n, " + sig + "::sizes, " + sig + "::ptrs, " + std::to_string(kn.static_bytes) +
             "u},\n";
    }
    o += "    {nullptr, nullptr, 0, nullptr, nullptr, 0}};\nint emu_abi = " + std::to_string(kABI) + ";\n}\n";
    return true;
}

static std::string header_dir() {
    Dl_info info;
    if (!dladdr((void*)&header_dir, &info) || !info.dli_fname) return ".";
    std::string p = info.dli_fname;
    size_t s = p.rfind('/');
    return s == std::string::npos ? "." : p.substr(0, s);
}

static bool read_file(const std::string& path, std::string* out) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return false;
    std::stringstream ss;
    ss << f.rdbuf();
    *out = ss.str();
    return true;
}

static bool write_file(const std::string& path, const std::string& data) {
    std::ofstream f(path, std::ios::binary);
    f << data;
    return (bool)f;
}

// run executes argv with stdout and stderr appended to log; it returns
// the exit status (-1 when it could not start).
static int run(const std::vector<std::string>& argv, const std::string& log) {
    std::vector<char*> av;
    for (auto& a : argv) av.push_back((char*)a.c_str());
    av.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, av[0], &fa, nullptr, av.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static std::string replace_all(std::string s, const std::string& a, const std::string& b) {
    if (a.empty()) return s;
    for (size_t p = 0; (p = s.find(a, p)) != std::string::npos; p += b.size()) s.replace(p, a.size(), b);
    return s;
}

static std::string base64(const std::string& in) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string o;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        unsigned v = ((unsigned char)in[i] << 16) | ((unsigned char)in[i + 1] << 8) | (unsigned char)in[i + 2];
        o += t[v >> 18];
        o += t[(v >> 12) & 63];
        o += t[(v >> 6) & 63];
        o += t[v & 63];
    }
    if (i < in.size()) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < in.size()) v |= (unsigned char)in[i + 1] << 8;
        o += t[v >> 18];
        o += t[(v >> 12) & 63];
        o += i + 1 < in.size() ? t[(v >> 6) & 63] : '=';
        o += '=';
    }
    return o;
}

struct CompileArgs {
    Program* p;
    std::vector<std::string> opts;
    int rc;
};

static void compile(void* arg) {
    CompileArgs* a = (CompileArgs*)arg;
    Program* p = a->p;
    p->log.clear();
    std::string target = "sm_90";
    std::vector<std::string> defines;
    for (size_t i = 0; i < a->opts.size(); i++) {
        const std::string& o = a->opts[i];
        std::string v;
        if (o.rfind("--gpu-architecture=", 0) == 0) v = o.substr(19);
        else if (o.rfind("-arch=", 0) == 0) v = o.substr(6);
        else if ((o == "--gpu-architecture" || o == "-arch") && i + 1 < a->opts.size()) v = a->opts[++i];
        if (!v.empty()) {
            bool ok = false;
            for (int c : kArchs)
                if (v == fmt("sm_%d", c) || v == fmt("compute_%d", c)) ok = true;
            if (!ok) {
                p->log = "nvrtc: error: invalid value for --gpu-architecture (-arch): " + v + "\n";
                a->rc = kNvInvalidOption;
                return;
            }
            target = v;
            continue;
        }
        if (o.rfind("-D", 0) == 0 || o.rfind("--define-macro=", 0) == 0) {
            defines.push_back("-D" + (o[1] == 'D' ? o.substr(2) : o.substr(15)));
            continue;
        }
        static const char* ignored[] = {"--use_fast_math", "-use_fast_math", "-lineinfo", "--generate-line-info", "-G", "--device-debug",
                                        "-std=c++17", "--std=c++17", "-std=c++14", "--std=c++14", "-default-device", "--fmad=true",
                                        "--fmad=false", "-w", "--disable-warnings"};
        bool known = false;
        for (const char* g : ignored) known |= o == g;
        if (o.rfind("--ptxas-options=", 0) == 0 || o.rfind("-Xptxas", 0) == 0 || o.rfind("--maxrregcount", 0) == 0) known = true;
        if (!known) {
            p->log = "nvrtc: error: unrecognized option " + o + "\n";
            a->rc = kNvInvalidOption;
            return;
        }
    }
    const char* tmp = getenv("TMPDIR");
    std::string tpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/seqdiff-cuda-emu-XXXXXX";
    std::vector<char> tb(tpl.begin(), tpl.end());
    tb.push_back(0);
    if (!mkdtemp(tb.data())) {
        p->log = "cuda-emu NVRTC: cannot make a temporary folder under " + tpl + "\n";
        a->rc = kNvBuiltinFailed;
        return;
    }
    std::string dir = tb.data(), hdr = header_dir();
    std::string name = p->name.empty() ? "default_program" : p->name;
    for (char& c : name)
        if (c == '/') c = '_';
    std::string src = dir + "/" + name, pre = dir + "/pre.ii", fin = dir + "/emu.cpp", so = dir + "/module.so", log = dir + "/log.txt";
    const char* cxx = getenv("SEQDIFF_CUDA_EMU_CXX");
    std::string compiler = cxx && *cxx ? cxx : "c++";
    const char* optenv = getenv("SEQDIFF_CUDA_EMU_OPT");
    std::string opt = optenv && *optenv ? optenv : "-O1";
    struct stat st;
    int rc = kNvSuccess;
    if (stat((hdr + "/cuda_builtins.h").c_str(), &st) != 0) {
        p->log = "cuda-emu NVRTC: " + hdr + "/cuda_builtins.h not found (make cuda-emu copies it beside the library)\n";
        rc = kNvBuiltinFailed;
    } else if (!write_file(src, p->src)) {
        p->log = "cuda-emu NVRTC: cannot write " + src + "\n";
        rc = kNvBuiltinFailed;
    } else {
        std::vector<std::string> cpp = {compiler, "-E", "-x", "c++", "-std=c++17", "-include", hdr + "/emu_macros.h"};
        for (auto& d : defines) cpp.push_back(d);
        cpp.insert(cpp.end(), {"-o", pre, src});
        int r = run(cpp, log);
        std::string text, rewritten, why;
        if (r != 0) {
            rc = r < 0 ? kNvBuiltinFailed : kNvCompilation;
            if (r < 0) p->log = "cuda-emu NVRTC: cannot run the C++ compiler " + compiler + " (set SEQDIFF_CUDA_EMU_CXX)\n";
        } else if (!read_file(pre, &text) || !rewrite(text, &rewritten, &p->kernels, &why)) {
            p->log = name + ": error: cuda-emu: " + why + "\n";
            rc = kNvCompilation;
        } else if (!write_file(fin, rewritten)) {
            rc = kNvBuiltinFailed;
        } else {
            std::vector<std::string> cc = {compiler, "-x", "c++", "-std=c++17", opt, "-fPIC", "-shared", "-fno-strict-aliasing",
                                           "-Wno-unknown-pragmas", "-I", hdr, "-include", "cuda_builtins.h", "-o", so, fin};
            r = run(cc, log);
            if (r != 0) rc = r < 0 ? kNvBuiltinFailed : kNvCompilation;
            else if (!read_file(so, &p->image)) rc = kNvBuiltinFailed;
        }
    }
    std::string clog;
    read_file(log, &clog);
    p->log += replace_all(replace_all(clog, dir + "/", ""), hdr + "/", "");
    if (getenv("SEQDIFF_CUDA_EMU_KEEP")) {
        p->log += "cuda-emu NVRTC: files kept in " + dir + "\n";
    } else {
        for (const std::string& f : {src, pre, fin, so, log}) unlink(f.c_str());
        rmdir(dir.c_str());
    }
    if (rc == kNvSuccess) {
        p->target = target;
        p->ptx = target.rfind("compute_", 0) == 0;
        if (p->ptx) {
            // The "PTX": entry names (as real PTX lists them) and the module.
            std::string t = "// seqdiff cuda-emu: not PTX; the emulator's cuModuleLoadData reads the module below\n.version 8.0\n.target " + target + "\n";
            for (auto& k : p->kernels) t += ".entry " + k + "\n";
            t += ".emu_image " + base64(p->image) + "\n";
            p->image = t;
            p->image.push_back('\0');
        }
        p->compiled = true;
    }
    a->rc = rc;
}

} // namespace emu

using namespace emu;

EMU_EXPORT int nvrtcVersion(int* major, int* minor) {
    *major = 12;
    *minor = 8;
    return 0;
}

EMU_EXPORT int nvrtcGetNumSupportedArchs(int* n) {
    *n = (int)(sizeof kArchs / sizeof kArchs[0]);
    return 0;
}

EMU_EXPORT int nvrtcGetSupportedArchs(int* a) {
    for (int c : kArchs) *a++ = c;
    return 0;
}

EMU_EXPORT int nvrtcCreateProgram(Program** prog, const char* src, const char* name, int nheaders, const char* const* headers,
                                  const char* const* include_names) {
    (void)headers;
    (void)include_names;
    if (!prog || !src) return kNvInvalidInput;
    if (nheaders != 0) return kNvInvalidInput; // the backend passes none
    Program* p = new Program;
    p->src = src;
    p->name = name ? name : "";
    *prog = p;
    return 0;
}

EMU_EXPORT int nvrtcCompileProgram(Program* p, int nopts, const char* const* opts) {
    if (!p) return kNvInvalidProgram;
    std::lock_guard<std::recursive_mutex> l(mu);
    CompileArgs a{p, {}, 0};
    for (int i = 0; i < nopts; i++) a.opts.push_back(opts[i]);
    on_big_stack(compile, &a);
    return a.rc;
}

EMU_EXPORT int nvrtcGetProgramLogSize(Program* p, size_t* n) {
    if (!p) return kNvInvalidProgram;
    *n = p->log.size() + 1;
    return 0;
}

EMU_EXPORT int nvrtcGetProgramLog(Program* p, char* out) {
    if (!p) return kNvInvalidProgram;
    memcpy(out, p->log.c_str(), p->log.size() + 1);
    return 0;
}

EMU_EXPORT int nvrtcGetCUBINSize(Program* p, size_t* n) {
    if (!p || !p->compiled) return kNvInvalidProgram;
    *n = p->ptx ? 0 : p->image.size();
    return 0;
}

EMU_EXPORT int nvrtcGetCUBIN(Program* p, char* out) {
    if (!p || !p->compiled) return kNvInvalidProgram;
    if (p->ptx) return kNvInvalidInput;
    memcpy(out, p->image.data(), p->image.size());
    return 0;
}

EMU_EXPORT int nvrtcGetPTXSize(Program* p, size_t* n) {
    if (!p || !p->compiled) return kNvInvalidProgram;
    if (!p->ptx) return kNvInvalidInput; // compiled for a real architecture: a CUBIN
    *n = p->image.size();
    return 0;
}

EMU_EXPORT int nvrtcGetPTX(Program* p, char* out) {
    if (!p || !p->compiled) return kNvInvalidProgram;
    if (!p->ptx) return kNvInvalidInput;
    memcpy(out, p->image.data(), p->image.size());
    return 0;
}

EMU_EXPORT int nvrtcDestroyProgram(Program** p) {
    if (!p || !*p) return kNvInvalidProgram;
    delete *p;
    *p = nullptr;
    return 0;
}

EMU_EXPORT const char* nvrtcGetErrorString(int r) {
    switch (r) {
    case 0: return "NVRTC_SUCCESS";
    case 1: return "NVRTC_ERROR_OUT_OF_MEMORY";
    case 2: return "NVRTC_ERROR_PROGRAM_CREATION_FAILURE";
    case 3: return "NVRTC_ERROR_INVALID_INPUT";
    case 4: return "NVRTC_ERROR_INVALID_PROGRAM";
    case 5: return "NVRTC_ERROR_INVALID_OPTION";
    case 6: return "NVRTC_ERROR_COMPILATION";
    case 7: return "NVRTC_ERROR_BUILTIN_OPERATION_FAILURE";
    default: return "NVRTC_ERROR unknown";
    }
}
