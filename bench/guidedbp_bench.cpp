// guidedbp's benchmark: time and peak memory of Guided Backpropagation,
// Deconvolution and K targets from one forward pass, next to a forward pass
// and a plain LibTorch input gradient, on TorchScript models.
//
// One process; for each (model, batch, threads) every measured thing is
// warmed up, then timed in interleaved rounds (the order rotates each round),
// so that load from other processes hits all of them alike; medians are
// reported. Peak memory is measured afterwards, one call at a time.
//
// With --packages DIR it also times the AOTInductor packages of `guidedbp
// export` (DIR/<model>.<method>.pt2, made by bench/export_bench.py) through
// guidedbp::CompiledAttribution: compiled GBP against the compiled plain
// gradient (a Saliency package) and against the TorchScript path.
//
// Usage: guidedbp_bench --models-dir DIR --fashion PATH [--out FILE.json]
//        [--models a,b] [--batches 1,8] [--threads 1,2] [--quick] ...
// (--help lists everything). bench/run.sh runs it and prints the table.

#include <guidedbp/guidedbp.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>
#include <torch/version.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "detail/attribution_steps.h"
#include "detail/relu_override.h"

namespace {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- options

struct ModelSpec {
  std::string name;
  std::string path;
  std::vector<int64_t> chw; // one example's shape
  std::string layer = "";   // GuidedGradCam's layer ("": not timed)
};

struct Options {
  std::string models_dir = "models";
  std::string fashion = "examples/fashion_mnist/model.pt";
  std::string out = "guidedbp_bench.json";
  std::vector<std::string> models = {
      "tiny_cnn",
      "fashion_mnist",
      "resnet18",
      "vgg11"};
  std::vector<int64_t> batches = {1, 8};
  std::vector<int64_t> threads = {1, 2};
  std::vector<int64_t> k_batches = {1}; // batches at which K targets are timed
  int64_t k = 10; // targets for the one-forward vs separate-calls comparison
  int64_t target = 3; // class whose score is explained
  int warmup =
      3; // untimed calls of each thing (the profiling executor needs 2)
  int min_rounds = 5;
  int max_rounds = 31;
  double budget_s = 20; // timed seconds per (model, batch, threads), roughly
  int memory_reps = 3;
  bool memory = true;
  bool stages = true; // per-stage timing of GuidedBackprop
  bool quick = false;
  std::vector<std::string> only; // measured things to keep (empty: all)
  std::string packages; // folder of <model>.<method>.pt2 ("": none timed)
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) {
      out.push_back(item);
    }
  }
  return out;
}

std::vector<int64_t> split_ints(const std::string& s) {
  std::vector<int64_t> out;
  for (const auto& item : split(s)) {
    out.push_back(std::stoll(item));
  }
  return out;
}

void usage(std::ostream& os) {
  os << "usage: guidedbp_bench [options]\n"
        "  --models-dir DIR     folder with tiny_cnn.pt resnet18.pt vgg11.pt (bench/make_models.py)\n"
        "  --fashion PATH       the shipped model (examples/fashion_mnist/model.pt)\n"
        "  --out FILE           JSON results (default guidedbp_bench.json)\n"
        "  --models a,b         of tiny_cnn,fashion_mnist,resnet18,vgg11 (default all)\n"
        "  --batches 1,8        batch sizes (default 1,8)\n"
        "  --threads 1,2        intra-op threads, torch::set_num_threads (default 1,2)\n"
        "  --k N                targets for one forward vs N calls (default 10)\n"
        "  --k-batches 1        batches at which the K comparison runs (default 1; 'all')\n"
        "  --budget S           timed seconds per configuration (default 20)\n"
        "  --min-rounds N --max-rounds N   (default 5, 31)\n"
        "  --warmup N           untimed calls of each measured thing (default 3)\n"
        "  --memory-reps N      peak-memory repetitions, median kept (default 3)\n"
        "  --no-memory --no-stages\n"
        "  --quick              tiny_cnn,fashion_mnist,resnet18; budget 4 s; 3-9 rounds\n"
        "  --only a,b           time only these (e.g. guided_backprop: the pure throughput\n"
        "                       that bench/dataset_bench.py compares explain with)\n"
        "  --packages DIR       also time DIR/<model>.{guided-backprop,saliency,guided-gradcam}.pt2\n"
        "                       (guidedbp export; LibTorch >= 2.6) as compiled_gbp,\n"
        "                       compiled_plain_grad, compiled_guided_gradcam\n";
}

Options parse(int argc, char** argv) {
  Options o;
  bool k_batches_all = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        throw std::invalid_argument("missing value after " + a);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage(std::cout);
      std::exit(0);
    } else if (a == "--quick") {
      o.quick = true;
      o.models = {"tiny_cnn", "fashion_mnist", "resnet18"};
      o.budget_s = 4;
      o.min_rounds = 3;
      o.max_rounds = 9;
      o.warmup = 2;
      o.memory_reps = 1;
    } else if (a == "--models-dir") {
      o.models_dir = value();
    } else if (a == "--fashion") {
      o.fashion = value();
    } else if (a == "--out") {
      o.out = value();
    } else if (a == "--models") {
      o.models = split(value());
    } else if (a == "--batches") {
      o.batches = split_ints(value());
    } else if (a == "--threads") {
      o.threads = split_ints(value());
    } else if (a == "--k") {
      o.k = std::stoll(value());
    } else if (a == "--k-batches") {
      std::string v = value();
      k_batches_all = v == "all";
      if (!k_batches_all) {
        o.k_batches = split_ints(v);
      }
    } else if (a == "--budget") {
      o.budget_s = std::stod(value());
    } else if (a == "--min-rounds") {
      o.min_rounds = std::stoi(value());
    } else if (a == "--max-rounds") {
      o.max_rounds = std::stoi(value());
    } else if (a == "--warmup") {
      o.warmup = std::stoi(value());
    } else if (a == "--memory-reps") {
      o.memory_reps = std::stoi(value());
    } else if (a == "--no-memory") {
      o.memory = false;
    } else if (a == "--no-stages") {
      o.stages = false;
    } else if (a == "--only") {
      o.only = split(value());
    } else if (a == "--packages") {
      o.packages = value();
    } else {
      throw std::invalid_argument("unknown option " + a);
    }
  }
  if (k_batches_all) {
    o.k_batches = o.batches;
  }
  return o;
}

// ---------------------------------------------------------------- memory
//
// Peak growth of resident memory during one call: with a fixed mmap
// threshold of 64 KiB, every block of 64 KiB or more is mmapped and unmapped
// when freed, so resident memory follows live tensors; malloc_trim(0) returns
// the small-block heap's free pages first. Writing "5" to /proc/self/clear_refs
// resets VmHWM to the current RSS; after the call, VmHWM - VmRSS(before) is
// the peak growth.
//
// Timing runs with other settings: a 64 KiB threshold would make every fresh
// tensor page-fault, which a normal process avoids. There glibc raises its
// mmap threshold (up to 32 MiB on 64-bit) as big blocks are freed; timing
// fixes it there, the warm state of a process that has run a model a few times.

void malloc_for_timing() {
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
}

void malloc_for_memory() {
  mallopt(M_MMAP_THRESHOLD, 64 * 1024);
  mallopt(M_TRIM_THRESHOLD, 128 * 1024);
  malloc_trim(0);
}

long status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(in, line)) {
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':') {
      return std::stol(line.substr(n + 1));
    }
  }
  return -1;
}

bool reset_peak() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

double peak_growth_mb(const std::function<void()>& call) {
  malloc_trim(0);
  const long before = status_kb("VmRSS");
  if (!reset_peak()) {
    return -1;
  }
  call();
  const long peak = status_kb("VmHWM");
  return (peak - before) / 1024.0;
}

// ---------------------------------------------------------------- stats

struct Stats {
  double median, p25, p75, min, max;
  size_t n;
};

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}

Stats stats(const std::vector<double>& v) {
  return {
      quantile(v, 0.5),
      quantile(v, 0.25),
      quantile(v, 0.75),
      *std::min_element(v.begin(), v.end()),
      *std::max_element(v.begin(), v.end()),
      v.size()};
}

double median(std::vector<double> v) {
  return quantile(std::move(v), 0.5);
}

// ---------------------------------------------------------------- JSON

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string json_number(double x) {
  std::ostringstream os;
  os.precision(6);
  os << x;
  return os.str();
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      return line.substr(line.find(':') + 2);
    }
  }
  return "unknown";
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// ---------------------------------------------------------------- bench

struct Measured {
  std::string what;
  std::function<void()> call;
};

struct Record {
  std::string model;
  int64_t batch;
  int64_t threads;
  std::string what;
  Stats time;
  Stats cpu;
  double peak_mb = -1;
  std::vector<double> peak_reps{};
  std::string note{};
};

struct StageRecord {
  std::string model;
  int64_t batch, threads;
  int64_t relus;
  double forward_ms, walk_ms, backward_ms, total_ms;
};

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// Wall time, and CPU time of the whole process (all threads): on a shared
// machine the CPU time of a one-thread run barely depends on how often it was
// descheduled, so it is the steadier measure of work done.
struct Timing {
  double wall_ms, cpu_ms;
};

Timing time_call(const std::function<void()>& f) {
  const double c0 = cpu_ms();
  auto t0 = Clock::now();
  f();
  return {ms_since(t0), cpu_ms() - c0};
}

double time_ms(const std::function<void()>& f) {
  return time_call(f).wall_ms;
}

// ---------------------------------------------------------------- stages
//
// GuidedBackprop taken apart, to see where time goes: forward with grad
// (optimizer off), walk + hooks, backward. The library's own steps
// (src/detail/, through the internal target guidedbp_internal), so the
// stages time the code the product runs.

struct StageTimes {
  int64_t relus;
  double forward_ms, walk_ms, backward_ms, total_ms;
};

StageTimes guided_backprop_stages(
    const guidedbp::Model& model,
    const torch::Tensor& x,
    int64_t target) {
  namespace detail = guidedbp::detail;
  StageTimes t{};
  detail::AttributionModeGuard mode;
  const auto t0 = Clock::now();
  const std::vector<torch::Tensor> leaves = detail::make_leaves({x});
  const torch::Tensor out = detail::output_tensor(
      model.forward({leaves[0]}), model, "guidedbp_bench");
  const torch::Tensor sel = guidedbp::Target(target).select(out);
  t.forward_ms = ms_since(t0);
  const auto t1 = Clock::now();
  detail::VisitedNodes visited;
  detail::ReluOverrideCount count;
  detail::override_relus(sel, guidedbp::ReluRule::kGuided, visited, count);
  t.relus = count.relus;
  t.walk_ms = ms_since(t1);
  const auto t2 = Clock::now();
  torch::autograd::grad({sel}, leaves, {torch::ones_like(sel)});
  t.backward_ms = ms_since(t2);
  t.total_ms = ms_since(t0);
  return t;
}

} // namespace

int main(int argc, char** argv) {
  malloc_for_timing();
  Options opt;
  try {
    opt = parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "guidedbp_bench: " << e.what() << "\n";
    usage(std::cerr);
    return 2;
  }

  std::map<std::string, ModelSpec> specs = {
      {"tiny_cnn", {"tiny_cnn", opt.models_dir + "/tiny_cnn.pt", {3, 32, 32}}},
      {"fashion_mnist", {"fashion_mnist", opt.fashion, {1, 28, 28}}},
      {"resnet18",
       {"resnet18", opt.models_dir + "/resnet18.pt", {3, 224, 224}, "layer4"}},
      {"vgg11",
       {"vgg11", opt.models_dir + "/vgg11.pt", {3, 224, 224}, "features.18"}},
  };
  for (const auto& m : opt.models) {
    if (!specs.count(m)) {
      std::cerr << "guidedbp_bench: unknown model " << m << "\n";
      return 2;
    }
  }

  const auto start = Clock::now();
  const std::string load_start = loadavg();

  // Validate the peak-memory method: a 100 MiB tensor, written, must show ~100.
  malloc_for_memory();
  double check_mb = peak_growth_mb([] {
    torch::Tensor t = torch::ones({100 * 1024 * 1024 / 4}, torch::kFloat);
    (void)t.data_ptr<float>();
  });
  double check_free_mb = peak_growth_mb([] {});
  std::cerr << "memory check: 100 MiB tensor -> peak growth " << check_mb
            << " MiB; empty call -> " << check_free_mb << " MiB\n";
  malloc_for_timing();

  std::vector<Record> records;
  std::vector<StageRecord> stage_records;
  const int64_t target = opt.target;

  for (const auto& model_name : opt.models) {
    const ModelSpec& spec = specs.at(model_name);
    // The module a user would run: default executor settings.
    torch::jit::Module module = torch::jit::load(spec.path);
    module.eval();
    // A second copy (own executor) that only ever runs with the graph
    // optimizer off, as guidedbp runs its models: the like-for-like reference.
    torch::jit::Module module_noopt = torch::jit::load(spec.path);
    module_noopt.eval();
    guidedbp::GuidedBackprop gbp(module);
    guidedbp::Deconvolution deconv(module);
    guidedbp::Saliency saliency(module);
    // Built here: a layer graph costs about one forward pass, once per object.
    std::unique_ptr<guidedbp::GuidedGradCam> guided_grad_cam;
    if (!spec.layer.empty()) {
      guided_grad_cam =
          std::make_unique<guidedbp::GuidedGradCam>(module, spec.layer);
    }
    // The packages of the same model (bench/export_bench.py), by what they
    // are timed as; a missing file is not timed.
    std::vector<std::pair<std::string, guidedbp::CompiledAttribution>> packages;
    if (!opt.packages.empty()) {
      const std::pair<const char*, const char*> kinds[] = {
          {"guided-backprop", "compiled_gbp"},
          {"saliency", "compiled_plain_grad"},
          {"guided-gradcam", "compiled_guided_gradcam"}};
      for (const auto& [method, what] : kinds) {
        const std::string path =
            opt.packages + "/" + model_name + "." + method + ".pt2";
        if (std::ifstream(path).good()) {
          packages.emplace_back(what, guidedbp::CompiledAttribution(path));
        }
      }
    }

    for (int64_t batch : opt.batches) {
      torch::manual_seed(0);
      std::vector<int64_t> shape = {batch};
      shape.insert(shape.end(), spec.chw.begin(), spec.chw.end());
      const torch::Tensor x = torch::rand(shape);
      std::vector<guidedbp::Target> k_targets;
      for (int64_t k = 0; k < opt.k; ++k) {
        k_targets.emplace_back(k);
      }
      const bool with_k =
          std::find(opt.k_batches.begin(), opt.k_batches.end(), batch) !=
          opt.k_batches.end();

      auto plain_grad = [&](torch::jit::Module& m) {
        torch::Tensor xi = x.detach().clone().requires_grad_(true);
        torch::Tensor out = m.forward({xi}).toTensor();
        torch::Tensor sel = out.select(1, target);
        auto g = torch::autograd::grad({sel}, {xi}, {torch::ones_like(sel)});
        return g[0];
      };

      std::vector<Measured> measured = {
          {"forward",
           [&] {
             torch::NoGradGuard no_grad;
             module.forward({x});
           }},
          {"plain_grad", [&] { plain_grad(module); }},
          {"plain_grad_noopt",
           [&] {
             torch::jit::GraphOptimizerEnabledGuard off(false);
             plain_grad(module_noopt);
           }},
          {"saliency", [&] { (void)saliency.attribute(x, target); }},
          {"guided_backprop", [&] { (void)gbp.attribute(x, target); }},
          {"deconvolution", [&] { (void)deconv.attribute(x, target); }},
      };
      if (guided_grad_cam) {
        // Issue 10: the Grad-CAM part should add well under a forward pass.
        measured.push_back({"guided_gradcam", [&] {
                              (void)guided_grad_cam->attribute(x, target);
                            }});
      }
      for (const auto& [what, package] : packages) {
        // A signed Saliency package is the compiled plain gradient.
        measured.push_back(
            {what, [&, p = &package] { (void)p->attribute(x, target); }});
      }
      if (with_k) {
        measured.push_back(
            {"gbp_k" + std::to_string(opt.k) + "_one_forward",
             [&] { (void)gbp.attribute_targets({x}, k_targets); }});
        measured.push_back({"gbp_k" + std::to_string(opt.k) + "_separate", [&] {
                              for (const auto& t : k_targets) {
                                (void)gbp.attribute(x, t);
                              }
                            }});
      }

      if (!opt.only.empty()) {
        // A batch of 32 resnet18 images takes seconds per call: timing only
        // what is asked keeps such a run to a few rounds' time.
        measured.erase(
            std::remove_if(
                measured.begin(),
                measured.end(),
                [&](const Measured& m) {
                  return std::find(opt.only.begin(), opt.only.end(), m.what) ==
                      opt.only.end();
                }),
            measured.end());
        if (measured.empty()) {
          std::cerr << "guidedbp_bench: --only matches nothing measured\n";
          return 2;
        }
      }

      for (int64_t threads : opt.threads) {
        torch::set_num_threads(static_cast<int>(threads));
        std::cerr << model_name << " batch " << batch << " threads " << threads
                  << ": ";

        // Warm-up; the last warm-up round estimates a round's time.
        double round_ms = 0;
        for (int w = 0; w < opt.warmup; ++w) {
          round_ms = 0;
          for (auto& m : measured) {
            round_ms += time_ms(m.call);
          }
          // Two calls suffice for the profiling executor; stop there when
          // rounds are long.
          if (w >= 1 && round_ms > opt.budget_s * 1000 / 4) {
            break;
          }
        }
        int rounds =
            static_cast<int>(opt.budget_s * 1000 / std::max(round_ms, 1e-3));
        rounds = std::max(opt.min_rounds, std::min(opt.max_rounds, rounds));
        std::cerr << rounds << " rounds of ~" << static_cast<int>(round_ms)
                  << " ms";

        std::vector<std::vector<double>> times(measured.size()),
            cpus(measured.size());
        for (int r = 0; r < rounds; ++r) {
          for (size_t j = 0; j < measured.size(); ++j) {
            const size_t i = (j + r) % measured.size(); // rotate the order
            const Timing t = time_call(measured[i].call);
            times[i].push_back(t.wall_ms);
            cpus[i].push_back(t.cpu_ms);
          }
        }

        StageRecord st{model_name, batch, threads, 0, 0, 0, 0, 0};
        if (opt.stages) {
          std::vector<double> fw, walk, bw, total;
          for (int r = 0; r < std::max(3, rounds / 2); ++r) {
            const StageTimes t = guided_backprop_stages(gbp.model(), x, target);
            st.relus = t.relus;
            fw.push_back(t.forward_ms);
            walk.push_back(t.walk_ms);
            bw.push_back(t.backward_ms);
            total.push_back(t.total_ms);
          }
          st.forward_ms = median(fw);
          st.walk_ms = median(walk);
          st.backward_ms = median(bw);
          st.total_ms = median(total);
          stage_records.push_back(st);
        }

        for (size_t i = 0; i < measured.size(); ++i) {
          Record rec{
              model_name,
              batch,
              threads,
              measured[i].what,
              stats(times[i]),
              stats(cpus[i])};
          if (opt.memory) {
            malloc_for_memory();
            for (int rep = 0; rep < opt.memory_reps; ++rep) {
              rec.peak_reps.push_back(peak_growth_mb(measured[i].call));
            }
            rec.peak_mb = median(rec.peak_reps);
            malloc_for_timing();
          }
          records.push_back(rec);
        }
        const Record* plain = nullptr;
        const Record* g = nullptr;
        for (size_t i = records.size() - measured.size(); i < records.size();
             ++i) {
          if (records[i].what == "plain_grad") {
            plain = &records[i];
          } else if (records[i].what == "guided_backprop") {
            g = &records[i];
          }
        }
        if (g != nullptr) {
          std::cerr << "; gbp " << g->time.median << " ms";
        }
        if (g != nullptr && plain != nullptr) {
          std::cerr << ", plain " << plain->time.median << " ms (x"
                    << g->time.median / plain->time.median << "; cpu x"
                    << g->cpu.median / plain->cpu.median << ")";
        }
        std::cerr << "\n";
      }
    }
  }

  // ---- JSON
  std::ofstream out(opt.out);
  if (!out) {
    std::cerr << "guidedbp_bench: cannot write " << opt.out << "\n";
    return 1;
  }
  struct utsname un;
  uname(&un);
  out << "{\n  \"meta\": {\n"
      << "    \"tool\": \"guidedbp_bench\",\n"
      << "    \"torch\": " << json_string(TORCH_VERSION) << ",\n"
      << "    \"cpu\": " << json_string(cpu_model()) << ",\n"
      << "    \"nproc\": " << std::thread::hardware_concurrency() << ",\n"
      << "    \"kernel\": "
      << json_string(std::string(un.sysname) + " " + un.release) << ",\n"
      << "    \"loadavg_start\": " << json_string(load_start) << ",\n"
      << "    \"loadavg_end\": " << json_string(loadavg()) << ",\n"
      << "    \"wall_s\": " << json_number(ms_since(start) / 1000) << ",\n"
      << "    \"quick\": " << (opt.quick ? "true" : "false") << ",\n"
      << "    \"k\": " << opt.k << ",\n"
      << "    \"target\": " << opt.target << ",\n"
      << "    \"memory_check_100mib_mb\": " << json_number(check_mb) << ",\n"
      << "    \"memory_check_empty_mb\": " << json_number(check_free_mb)
      << ",\n"
      << "    \"reference\": \"plain_grad\"\n  },\n  \"records\": [\n";
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    out << "    {\"model\": " << json_string(r.model)
        << ", \"batch\": " << r.batch << ", \"threads\": " << r.threads
        << ", \"what\": " << json_string(r.what)
        << ", \"median_ms\": " << json_number(r.time.median)
        << ", \"p25_ms\": " << json_number(r.time.p25)
        << ", \"p75_ms\": " << json_number(r.time.p75)
        << ", \"min_ms\": " << json_number(r.time.min)
        << ", \"max_ms\": " << json_number(r.time.max)
        << ", \"cpu_median_ms\": " << json_number(r.cpu.median)
        << ", \"cpu_p25_ms\": " << json_number(r.cpu.p25)
        << ", \"cpu_p75_ms\": " << json_number(r.cpu.p75)
        << ", \"n\": " << r.time.n
        << ", \"peak_mb\": " << json_number(r.peak_mb) << "}"
        << (i + 1 < records.size() ? "," : "") << "\n";
  }
  out << "  ],\n  \"stages\": [\n";
  for (size_t i = 0; i < stage_records.size(); ++i) {
    const StageRecord& s = stage_records[i];
    out << "    {\"model\": " << json_string(s.model)
        << ", \"batch\": " << s.batch << ", \"threads\": " << s.threads
        << ", \"relus\": " << s.relus
        << ", \"forward_ms\": " << json_number(s.forward_ms)
        << ", \"walk_ms\": " << json_number(s.walk_ms)
        << ", \"backward_ms\": " << json_number(s.backward_ms)
        << ", \"total_ms\": " << json_number(s.total_ms) << "}"
        << (i + 1 < stage_records.size() ? "," : "") << "\n";
  }
  out << "  ]\n}\n";
  std::cerr << "wrote " << opt.out << " ("
            << static_cast<int>(ms_since(start) / 1000) << " s)\n";
  return 0;
}
