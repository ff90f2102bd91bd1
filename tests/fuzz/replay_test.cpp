// The fuzz targets in every build: each over its seed corpus (tests/fuzz/corpus/<target>/, where
// inputs that once broke a property are kept too) and over deterministic mutations of it, so that
// CI and its ASan+UBSan run check the properties without a fuzzer. SWITCHYARD_FUZZ_ITERATIONS sets
// how many mutated inputs each target gets (default 20,000; the seed is fixed, so a failure
// repeats).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "targets.hpp"

namespace switchyard::fuzz {
namespace {

std::vector<std::string> corpus(const std::string& target) {
    std::vector<std::filesystem::path> paths;
    for (const auto& entry : std::filesystem::directory_iterator(std::string(SWITCHYARD_FUZZ_CORPUS) + "/" + target)) {
        if (entry.is_regular_file()) paths.push_back(entry.path());
    }
    std::sort(paths.begin(), paths.end());  // the same order, so the same mutations, every run
    std::vector<std::string> inputs;
    for (const auto& path : paths) {
        std::ifstream file(path, std::ios::binary);
        std::stringstream bytes;
        bytes << file.rdbuf();
        inputs.push_back(bytes.str());
    }
    return inputs;
}

// Pieces that make a mutation likely to reach past the first syntax check.
// clang-format off
constexpr std::array<std::string_view, 30> kTokens = {
    "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u00e9", "\\ud83d\\ude00", "true", "false", "null", "0", "-1.5e3",
    "\"model\"", "\"stream\"", "\"stream_options\"", "\"include_usage\"", "\"messages\"", "\"max_tokens\"",
    "\"usage\":{", "\"prompt_tokens\":", "\"choices\":[]", "\"content\":\"", "data: ", "\n\n", "\r\n", " ",
    "\xc3\xa9"};
// clang-format on

std::string mutate(std::string input, const std::vector<std::string>& inputs, std::mt19937& random) {
    auto below = [&random](std::size_t n) {
        return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(random);
    };
    const std::size_t steps = 1 + below(4);
    for (std::size_t step = 0; step < steps; ++step) {
        const std::size_t at = below(input.size() + 1);
        switch (below(6)) {
            case 0:  // flip a byte
                if (!input.empty()) input[below(input.size())] ^= static_cast<char>(1u << below(8));
                break;
            case 1:  // a random byte
                input.insert(at, 1, static_cast<char>(below(256)));
                break;
            case 2:  // erase a range
                input.erase(at, below(9));
                break;
            case 3:  // a token
                input.insert(at, kTokens[below(kTokens.size())]);
                break;
            case 4: {  // a range copied elsewhere
                const std::size_t from = below(input.size() + 1);
                const std::string piece = input.substr(from, below(17));
                input.insert(below(input.size() + 1), piece);
                break;
            }
            default: {  // the tail of another input
                const std::string& other = inputs[below(inputs.size())];
                input = input.substr(0, at) + other.substr(below(other.size() + 1));
            }
        }
    }
    return input;
}

// `iterations`: the default number of mutations (a target whose inputs cost more gets fewer, to keep
// the ASan run short).
void replay(const std::string& target, const std::function<void(std::string_view)>& check, long iterations = 20000) {
    const std::vector<std::string> inputs = corpus(target);
    ASSERT_FALSE(inputs.empty()) << "no seed inputs for " << target;
    for (const auto& input : inputs) check(input);
    if (const char* text = std::getenv("SWITCHYARD_FUZZ_ITERATIONS")) iterations = std::atol(text);
    std::mt19937 random(20261204);
    for (long i = 0; i < iterations; ++i) check(mutate(inputs[i % inputs.size()], inputs, random));
}

TEST(FuzzReplay, ParseRequest) { replay("parse_request", parse_request); }
TEST(FuzzReplay, LocateJsonError) { replay("locate_json_error", locate_json_error); }
TEST(FuzzReplay, StreamScanner) { replay("stream_scanner", stream_scanner); }
// Each input is translated twice and its events and the output's parsed: a quarter of the mutations.
TEST(FuzzReplay, TranslateStream) { replay("translate_stream", translate_stream, 5000); }
TEST(FuzzReplay, TranslateRequest) { replay("translate_request", translate_request); }
// Each input is read three times, one of them in small windows; the seeds include a 21 KiB header.
TEST(FuzzReplay, GgufHeader) { replay("gguf_header", gguf_header, 4000); }

}  // namespace
}  // namespace switchyard::fuzz
