// Unit tests of serve's torch-free parts: the JSON mapping, the metrics text
// and the batcher (with a fake backend), against hand-written expectations.

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <thread>

#include "cli/cli_error.h"
#include "serve/batcher.h"
#include "serve/metrics.h"
#include "serve/protocol.h"
#include "serve/request.h"

using guidedbp::cli::TargetLiteral;
using namespace guidedbp::cli::serve;
using nlohmann::json;

namespace {

int status_of(const json& body) {
  try {
    parse_instances(body);
  } catch (const RequestError& e) {
    return e.status();
  }
  return 0;
}

std::string message_of(const json& body) {
  try {
    parse_instances(body);
  } catch (const RequestError& e) {
    return e.what();
  }
  return "";
}

// Records the batches it is given and answers every job with its example
// count; `gate` holds the first batch until released.
class FakeBackend : public Backend {
 public:
  std::vector<std::string> model_names() const override {
    return {"m"};
  }
  void run(const std::string&, const std::vector<Job*>& jobs) override {
    {
      std::unique_lock<std::mutex> lock(mutex);
      cv.wait(lock, [this] { return open; });
      batches.push_back(static_cast<int64_t>(jobs.size()));
    }
    for (Job* job : jobs) {
      JobResult r;
      r.predicted = job->examples();
      job->finish(r);
    }
  }
  std::mutex mutex;
  std::condition_variable cv;
  bool open = true;
  std::vector<int64_t> batches;
};

std::shared_ptr<Job> job_with(int examples, int deadline_ms = 10000) {
  auto job = std::make_shared<Job>();
  job->kind = JobKind::kPredict;
  job->instances.resize(static_cast<size_t>(examples));
  job->deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ms);
  return job;
}

} // namespace

TEST(ServeProtocolTest, ParsesInstancesRowMajor) {
  auto instances = parse_instances(
      json::parse(R"({"instances": [[[1, 2], [3, 4.5]], [[5, 6], [7, 8]]]})"));
  ASSERT_EQ(instances.size(), 2u);
  EXPECT_EQ(instances[0].shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(instances[0].values, (std::vector<float>{1, 2, 3, 4.5f}));
  EXPECT_EQ(instances[1].values, (std::vector<float>{5, 6, 7, 8}));
  auto scalars = parse_instances(json::parse(R"({"instances": [1, 2]})"));
  EXPECT_TRUE(scalars[0].shape.empty());
  EXPECT_EQ(scalars[1].values, (std::vector<float>{2}));
}

TEST(ServeProtocolTest, RejectsMalformedInstances) {
  EXPECT_EQ(status_of(json::parse("[1]")), 400);
  EXPECT_NE(
      message_of(json::parse(R"({"x": 1})")).find("no \"instances\""),
      std::string::npos);
  EXPECT_NE(
      message_of(json::parse(R"({"instances": []})")).find("non-empty"),
      std::string::npos);
  EXPECT_NE(
      message_of(json::parse(R"({"instances": [[[1, 2], [3]]]})"))
          .find(
              "instance 0: ragged nested lists: expected a list of 2 at depth 1, found a list of 1"),
      std::string::npos);
  EXPECT_NE(
      message_of(json::parse(R"({"instances": [[1, "a"]]})"))
          .find("found string"),
      std::string::npos);
  EXPECT_NE(
      message_of(json::parse(R"({"instances": [[1, 2], [1, 2, 3]]})"))
          .find("instance 1 has shape [3] but instance 0 has [2]"),
      std::string::npos);
  EXPECT_NE(
      message_of(json::parse(R"({"instances": [[[]]]})")).find("empty list"),
      std::string::npos);
}

TEST(ServeProtocolTest, ParsesTargets) {
  EXPECT_EQ(parse_target(json(nullptr)).kind, TargetLiteral::Kind::kNone);
  TargetLiteral index = parse_target(json(-2));
  EXPECT_EQ(index.kind, TargetLiteral::Kind::kIndex);
  EXPECT_EQ(index.indices, (std::vector<int64_t>{-2}));
  TargetLiteral tuples = parse_target(json("[(0, 1), (2, 3)]"));
  EXPECT_EQ(tuples.kind, TargetLiteral::Kind::kPerExampleTuples);
  EXPECT_EQ(tuples.tuples.size(), 2u);
  try {
    parse_target(json(1.5));
    FAIL() << "a float target was accepted";
  } catch (const RequestError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_NE(
        std::string(e.what()).find("integer or a string"), std::string::npos);
  }
  EXPECT_THROW(parse_target(json("[1,,2]")), RequestError);
}

TEST(ServeProtocolTest, WritesNestedLists) {
  NdArray a{{2, 3}, {1, 2, 3, 4, 5, 6}};
  EXPECT_EQ(to_json(a), json::parse("[[1, 2, 3], [4, 5, 6]]"));
  NdArray scalar{{}, {7}};
  EXPECT_EQ(to_json(scalar), json(7.0));
  EXPECT_EQ(
      json::parse(error_body("bad \"x\"")), json({{"error", "bad \"x\""}}));
}

namespace {

RequestRules test_rules() {
  RequestRules rules;
  rules.visuals = {"heat_map", "blended_heat_map"};
  rules.signs = {"absolute_value", "all"};
  return rules;
}

// parse_request of a POST body; the status of its RequestError (0: none)
// and the message.
std::pair<int, std::string> refusal(
    const std::string& verb,
    const std::string& content_type,
    const std::string& body,
    const std::map<std::string, std::string>& query = {}) {
  Job job;
  try {
    parse_request(
        verb,
        content_type,
        body,
        [&query](const std::string& name) -> std::optional<std::string> {
          auto it = query.find(name);
          return it == query.end() ? std::nullopt
                                   : std::optional<std::string>(it->second);
        },
        test_rules(),
        job);
  } catch (const RequestError& e) {
    return {e.status(), e.what()};
  }
  return {0, ""};
}

} // namespace

TEST(ServeRequestTest, ReadsContentTypesCaseInsensitively) {
  EXPECT_EQ(body_kind("IMAGE/PNG"), BodyKind::kImage);
  EXPECT_EQ(body_kind("image/jpg"), BodyKind::kImage);
  EXPECT_EQ(body_kind(" Image/JPEG ; q=1"), BodyKind::kImage);
  EXPECT_EQ(body_kind(""), BodyKind::kJson);
  EXPECT_EQ(body_kind("Application/JSON; charset=utf-8"), BodyKind::kJson);
  EXPECT_EQ(body_kind("application/vnd.kserve+json"), BodyKind::kJson);
  EXPECT_EQ(body_kind("application/x-www-form-urlencoded"), BodyKind::kJson);
  for (const char* type :
       {"multipart/form-data; boundary=x",
        "image/gif",
        "text/html",
        "application/octet-stream"}) {
    try {
      body_kind(type);
      FAIL() << type << " was accepted";
    } catch (const RequestError& e) {
      EXPECT_EQ(e.status(), 415) << type;
    }
  }
  EXPECT_NE(
      refusal("explain", "multipart/form-data; boundary=x", "")
          .second.find("--data-binary"),
      std::string::npos);
}

TEST(ServeRequestTest, RefusesDeepNestingBeforeBuildingIt) {
  // Issue 16: 20,000 levels crashed the server.
  const std::string deep = "{\"instances\": " + std::string(20000, '[') + "1" +
      std::string(20000, ']') + "}";
  auto [status, message] = refusal("predict", "application/json", deep);
  EXPECT_EQ(status, 400);
  EXPECT_NE(message.find("nests deeper than 16 levels"), std::string::npos)
      << message;
  EXPECT_LT(message.size(), 200u);
  // Rank 9 fits the JSON depth but no model: refused by rank.
  const std::string rank9 = "{\"instances\": [" + std::string(9, '[') + "1" +
      std::string(9, ']') + "]}";
  auto [status9, message9] = refusal("predict", "", rank9);
  EXPECT_EQ(status9, 400);
  EXPECT_NE(message9.find("more than 8 dimensions"), std::string::npos)
      << message9;
  const std::string rank8 = "{\"instances\": [" + std::string(8, '[') + "1" +
      std::string(8, ']') + "]}";
  EXPECT_EQ(refusal("predict", "", rank8).first, 0);
}

TEST(ServeRequestTest, RefusesNumbersNotFiniteInFloat32) {
  EXPECT_EQ(
      refusal("predict", "", R"({"instances": [3.4028234e38]})").first, 0);
  EXPECT_EQ(refusal("predict", "", R"({"instances": [1e-46]})").first, 0);
  for (const char* body :
       {R"({"instances": [1e39]})",
        R"({"instances": [-3.5e38]})",
        R"({"instances": [1e999]})",
        R"({"instances": [-1e999]})"}) {
    auto [status, message] = refusal("predict", "", body);
    EXPECT_EQ(status, 400) << body;
    EXPECT_NE(message.find("float32"), std::string::npos) << message;
  }
}

TEST(ServeRequestTest, ChecksQueryParametersBeforeTheModel) {
  const std::string png = "\x89PNG";
  EXPECT_EQ(refusal("explain", "image/png", png).first, 0);
  EXPECT_EQ(
      refusal("explain", "image/png", png, {{"outlier_perc", "1.5"}}).first, 0);
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{
           {"outlier_perc", "150"},
           {"outlier_perc", "nan"},
           {"outlier_perc", "1e999"},
           {"sign", "bogus"},
           {"visual", "bogus"},
           {"abs", "maybe"},
           {"scale", "0"},
           {"scale", "2.5"},
           {"method", "lrp"},
           {"target", "[1,,2]"}}) {
    auto [status, message] =
        refusal("explain", "image/png", png, {{key, value}});
    EXPECT_EQ(status, 400) << key << "=" << value;
    EXPECT_EQ(message.find("normalize_attr"), std::string::npos) << message;
  }
}

TEST(ServeRequestTest, SplitsTheModelRoute) {
  EXPECT_EQ(split_model_route("fashion:predict").name, "fashion");
  EXPECT_EQ(split_model_route("fashion:predict").verb, "predict");
  EXPECT_EQ(split_model_route("a:b:explain").name, "a:b");
  EXPECT_EQ(split_model_route("fashion").verb, "");
}

TEST(ServeProtocolTest, CapsErrorMessages) {
  const std::string long_message(50000, 'x');
  const json body = json::parse(error_body(long_message));
  EXPECT_LE(
      body["error"].get<std::string>().size(),
      guidedbp::cli::kMaxMessageLength);
}

TEST(ServeMetricsTest, RendersCountersAndCumulativeBuckets) {
  Metrics metrics;
  metrics.record_request("explain", 200, 0.003);
  metrics.record_request("explain", 200, 0.2);
  metrics.record_request("explain", 400, 20.0);
  metrics.record_batch("m", 3);
  const std::string text = metrics.render({{"m", 5}});
  EXPECT_NE(
      text.find("guidedbp_requests_total{route=\"explain\",code=\"200\"} 2\n"),
      std::string::npos);
  EXPECT_NE(
      text.find("guidedbp_requests_total{route=\"explain\",code=\"400\"} 1\n"),
      std::string::npos);
  // 0.003 s falls in le=0.005 and above; 0.2 s in le=0.25; 20 s only in +Inf.
  EXPECT_NE(
      text.find("duration_seconds_bucket{route=\"explain\",le=\"0.0025\"} 0\n"),
      std::string::npos);
  EXPECT_NE(
      text.find("duration_seconds_bucket{route=\"explain\",le=\"0.005\"} 1\n"),
      std::string::npos);
  EXPECT_NE(
      text.find("duration_seconds_bucket{route=\"explain\",le=\"0.25\"} 2\n"),
      std::string::npos);
  EXPECT_NE(
      text.find("duration_seconds_bucket{route=\"explain\",le=\"10\"} 2\n"),
      std::string::npos);
  EXPECT_NE(
      text.find("duration_seconds_bucket{route=\"explain\",le=\"+Inf\"} 3\n"),
      std::string::npos);
  EXPECT_NE(
      text.find("duration_seconds_count{route=\"explain\"} 3\n"),
      std::string::npos);
  EXPECT_NE(
      text.find("guidedbp_batch_size_bucket{model=\"m\",le=\"2\"} 0\n"),
      std::string::npos);
  EXPECT_NE(
      text.find("guidedbp_batch_size_bucket{model=\"m\",le=\"4\"} 1\n"),
      std::string::npos);
  EXPECT_NE(
      text.find("guidedbp_queue_depth{model=\"m\"} 5\n"), std::string::npos);
}

TEST(ServeBatcherTest, GroupsQueuedJobsUpToTheBatchSize) {
  FakeBackend backend;
  backend.open = false; // the first batch waits, the others queue behind it
  std::vector<int64_t> sizes;
  std::mutex sizes_mutex;
  BatcherOptions options;
  options.max_batch = 4;
  options.max_delay = std::chrono::milliseconds(50);
  Batcher batcher("m", backend, options, [&](int64_t n) {
    std::lock_guard<std::mutex> lock(sizes_mutex);
    sizes.push_back(n);
  });
  std::vector<std::shared_ptr<Job>> jobs;
  for (int examples : {1, 1, 2, 1, 3, 1}) {
    jobs.push_back(job_with(examples));
    ASSERT_TRUE(batcher.submit(jobs.back()));
  }
  {
    std::lock_guard<std::mutex> lock(backend.mutex);
    backend.open = true;
  }
  backend.cv.notify_all();
  for (auto& job : jobs) {
    ASSERT_TRUE(job->wait_until(
        std::chrono::steady_clock::now() + std::chrono::seconds(10)));
    EXPECT_EQ(job->result().status, 200);
    EXPECT_EQ(job->result().predicted, job->examples());
  }
  batcher.stop();
  // 1+1+2 = 4 examples, then 1+3 = 4, then 1.
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 1}));
}

TEST(ServeBatcherTest, RefusesWhenFullAndTimesOutStaleJobs) {
  FakeBackend backend;
  backend.open = false;
  BatcherOptions options;
  options.max_batch = 1;
  options.max_queue = 2;
  Batcher batcher("m", backend, options, [](int64_t) {});
  auto running = job_with(1);
  ASSERT_TRUE(batcher.submit(running));
  // Wait until the worker has taken it (the queue is empty again).
  for (int i = 0; i < 1000 && batcher.depth() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto stale = job_with(1, /*deadline_ms=*/-1);
  auto queued = job_with(1);
  EXPECT_TRUE(batcher.submit(stale));
  EXPECT_TRUE(batcher.submit(queued));
  EXPECT_FALSE(batcher.submit(job_with(1))) << "a third waiting job was queued";
  EXPECT_EQ(batcher.depth(), 2);
  {
    std::lock_guard<std::mutex> lock(backend.mutex);
    backend.open = true;
  }
  backend.cv.notify_all();
  batcher.stop(); // runs what is queued first
  EXPECT_EQ(running->result().status, 200);
  EXPECT_EQ(stale->result().status, 503);
  EXPECT_EQ(queued->result().status, 200);
  EXPECT_FALSE(batcher.submit(job_with(1))) << "accepted after stop()";
}
