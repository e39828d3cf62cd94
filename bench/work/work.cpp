// Taskflow's side of evolve's BenchmarkWork (exec/bench_work_test.go): the
// four shapes of BenchmarkShapes at its "small" size, every task keeping
// its core busy for a given time before one atomic add, built and run by
// Taskflow. It asks what a user with real tasks pays: how much longer a
// task of 1 or 5 microseconds takes in each library, and what a second
// thread buys.
//
// Shapes, in the creation order of the Go side:
//   chain  n tasks in a line                          (n = 100,000)
//   tree   binary out-tree of depth 16, 131,071 tasks
//   indep  n independent tasks
//   wave   k*k grid, (i,j) after (i-1,j) and (i,j-1)   (k = 316)
//
// As Go's `-benchtime 3x`: one untimed warm-up, then `reps` timed
// repetitions, each a fresh tf::Taskflow built and run once; printed are
// sum(time) / sum(tasks), build and run timed apart with steady_clock.
// The busy loop reads steady_clock until its time is up, as the Go side
// reads the monotonic clock, so both run a clock read past their label.
//
// Usage: work [--work 1000,5000] [--shapes chain,tree,indep,wave]
//             [--threads 1,2] [--reps 3] [--scale small|tiny]
#include <taskflow/taskflow.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

using Clock = std::chrono::steady_clock;

static std::vector<std::string> fields(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string f; std::getline(in, f, ',');) out.push_back(f);
  return out;
}

// spin keeps the core busy for ns nanoseconds and returns how often it
// read the clock, so that the loop stays.
static long spin(long ns) {
  if (ns <= 0) return 0;
  long reads = 0;
  const auto t0 = Clock::now();
  while (std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count() < ns) reads++;
  return reads;
}

struct Job {
  long work;
  std::atomic<long>* done;
  std::atomic<long>* reads;
  void operator()() const {
    reads->fetch_add(spin(work), std::memory_order_relaxed);
    done->fetch_add(1, std::memory_order_relaxed);
  }
};

// build adds shape to tf and returns its task count.
static long build(tf::Taskflow& tf, const std::string& shape, long n, long depth, long k, const Job& job) {
  if (shape == "chain") {
    tf::Task last = tf.emplace(job);
    for (long i = 1; i < n; i++) {
      tf::Task t = tf.emplace(job);
      last.precede(t);
      last = t;
    }
    return n;
  }
  if (shape == "indep") {
    for (long i = 0; i < n; i++) tf.emplace(job);
    return n;
  }
  if (shape == "tree") {
    const long size = (1L << (depth + 1)) - 1;
    std::vector<tf::Task> ts(size);
    ts[0] = tf.emplace(job);
    for (long i = 1; i < size; i++) {
      ts[i] = tf.emplace(job);
      ts[(i - 1) / 2].precede(ts[i]);
    }
    return size;
  }
  if (shape == "wave") {
    std::vector<tf::Task> row(k);  // row[j]: the last task of column j
    for (long i = 0; i < k; i++) {
      for (long j = 0; j < k; j++) {
        tf::Task t = tf.emplace(job);
        if (i > 0) row[j].precede(t);
        if (j > 0) row[j - 1].precede(t);
        row[j] = t;
      }
    }
    return k * k;
  }
  std::fprintf(stderr, "unknown shape %s\n", shape.c_str());
  std::exit(2);
}

int main(int argc, char** argv) {
  std::string works = "1000,5000", shapes = "chain,tree,indep,wave", threads = "1,2", scale = "small";
  int reps = 3;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s wants a value\n", a.c_str());
      return 2;
    }
    std::string v = argv[++i];
    if (a == "--work") works = v;
    else if (a == "--shapes") shapes = v;
    else if (a == "--threads") threads = v;
    else if (a == "--reps") reps = std::atoi(v.c_str());
    else if (a == "--scale") scale = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  long n = 100000, depth = 16, k = 316;
  if (scale == "tiny") n = 1000, depth = 9, k = 32;
  for (const auto& w : fields(works)) {
    for (const auto& shape : fields(shapes)) {
      for (const auto& t : fields(threads)) {
        const int T = std::atoi(t.c_str());
        tf::Executor executor(T);
        std::atomic<long> done{0}, reads{0};
        const Job job{std::atol(w.c_str()), &done, &reads};
        double build_ns = 0, run_ns = 0;
        long tasks = 0;
        for (int r = 0; r <= reps; r++) {  // r == 0 warms up
          done = 0;
          tf::Taskflow tf;
          const auto t0 = Clock::now();
          const long m = build(tf, shape, n, depth, k, job);
          const auto t1 = Clock::now();
          executor.run(tf).wait();
          const auto t2 = Clock::now();
          if (done.load() != m) {
            std::fprintf(stderr, "%s ran %ld of %ld tasks\n", shape.c_str(), done.load(), m);
            return 1;
          }
          if (r == 0) continue;
          build_ns += std::chrono::duration<double, std::nano>(t1 - t0).count();
          run_ns += std::chrono::duration<double, std::nano>(t2 - t1).count();
          tasks += m;
        }
        std::printf("taskflow shape=%s work=%s T=%d build_ns_per_task=%.1f run_ns_per_task=%.1f total_ns_per_task=%.1f\n",
                    shape.c_str(), w.c_str(), T, build_ns / tasks, run_ns / tasks, (build_ns + run_ns) / tasks);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
