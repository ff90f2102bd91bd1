#include "models/pull.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/evp.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <vector>

#include "core/url.hpp"

namespace switchyard::models {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kMaxRedirects = 10;
constexpr auto kIoTimeout = std::chrono::seconds(60);

struct Target {
    bool tls = false;
    std::string host;
    std::string port;
    std::string path;  // with the query
};

std::optional<Target> parse_target(std::string_view url) {
    Target t;
    if (url.starts_with("https://")) {
        t.tls = true;
        url.remove_prefix(8);
    } else if (url.starts_with("http://")) {
        url.remove_prefix(7);
    } else {
        return std::nullopt;
    }
    const auto slash = url.find_first_of("/?#");
    std::string_view authority = url.substr(0, slash);
    t.path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
    if (const auto hash = t.path.find('#'); hash != std::string::npos) t.path.resize(hash);
    if (!t.path.starts_with("/")) t.path = "/" + t.path;
    if (authority.find('@') != std::string_view::npos) return std::nullopt;  // no credentials in URLs
    if (authority.starts_with("[")) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        t.host = std::string(authority.substr(1, close - 1));
        authority.remove_prefix(close + 1);
        if (authority.starts_with(":")) t.port = std::string(authority.substr(1));
    } else {
        const auto colon = authority.rfind(':');
        t.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) t.port = std::string(authority.substr(colon + 1));
    }
    if (t.port.empty()) t.port = t.tls ? "443" : "80";
    if (t.host.empty()) return std::nullopt;
    return t;
}

std::string origin(const Target& t) { return (t.tls ? "https://" : "http://") + t.host + ":" + t.port; }

// A Location header against the URL it came from.
std::string resolve_location(const Target& from, std::string_view location) {
    if (location.starts_with("http://") || location.starts_with("https://")) return std::string(location);
    if (location.starts_with("//")) return (from.tls ? "https:" : "http:") + std::string(location);
    std::string base = (from.tls ? "https://" : "http://") + from.host + ":" + from.port;
    if (location.starts_with("/")) return base + std::string(location);
    std::string dir = from.path.substr(0, from.path.find('?'));
    dir = dir.substr(0, dir.rfind('/') + 1);
    return base + dir + std::string(location);
}

struct Failure {
    std::string message;
    bool keep_partial = true;
};

// One response's status and the headers a pull reads.
struct Head {
    int status = 0;
    std::string location;
    std::string linked_etag;
    std::string linked_size;
    std::string etag;
    std::string content_range;
    std::optional<std::uint64_t> content_length;
};

// A connection for one request (HTTP/1.1, Connection: close), plain or TLS.
class Connection {
public:
    Connection(asio::io_context& io, ssl::context& tls, const Target& target) : target_(target) {
        asio::ip::tcp::resolver resolver(io);
        const auto endpoints = resolver.resolve(target.host, target.port);
        if (target.tls) {
            tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io, tls);
            if (!SSL_set_tlsext_host_name(tls_->native_handle(), target.host.c_str())) {
                throw Failure{"cannot set the TLS server name for " + target.host};
            }
            tls_->set_verify_callback(ssl::host_name_verification(target.host));
            beast::get_lowest_layer(*tls_).expires_after(kIoTimeout);
            beast::get_lowest_layer(*tls_).connect(endpoints);
            tls_->handshake(ssl::stream_base::client);
        } else {
            plain_ = std::make_unique<beast::tcp_stream>(io);
            plain_->expires_after(kIoTimeout);
            plain_->connect(endpoints);
        }
    }

    template <typename F>
    auto with_stream(F&& f) {
        if (tls_) {
            beast::get_lowest_layer(*tls_).expires_after(kIoTimeout);
            return f(*tls_);
        }
        plain_->expires_after(kIoTimeout);
        return f(*plain_);
    }

private:
    Target target_;
    std::unique_ptr<beast::tcp_stream> plain_;
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_;
};

class Sha256 {
public:
    Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
    ~Sha256() { EVP_MD_CTX_free(ctx_); }
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(const char* data, std::size_t n) { EVP_DigestUpdate(ctx_, data, n); }
    void reset() { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
    std::string hex() {
        unsigned char digest[32];
        unsigned int length = 0;
        EVP_DigestFinal_ex(ctx_, digest, &length);
        static constexpr char digits[] = "0123456789abcdef";
        std::string out;
        for (unsigned i = 0; i < length; ++i) {
            out += digits[digest[i] >> 4];
            out += digits[digest[i] & 15];
        }
        return out;
    }

private:
    EVP_MD_CTX* ctx_;
};

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

std::optional<std::uint64_t> to_number(std::string_view text) {
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return n;
}

class Progress {
public:
    Progress(std::string label, bool bar, std::ostream& log,
             const std::function<void(std::uint64_t, std::uint64_t)>& callback)
        : label_(std::move(label)), bar_(bar), log_(log), callback_(callback), start_(Clock::now()), last_(start_) {}
    void update(std::uint64_t done, std::uint64_t total, std::uint64_t resumed_from, bool final = false) {
        if (callback_) callback_(done, total);
        const auto now = Clock::now();
        const auto every = bar_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(5000);
        if (!final && now - last_ < every) return;
        last_ = now;
        const double seconds = std::chrono::duration<double>(now - start_).count();
        const double rate = seconds > 0 ? static_cast<double>(done - resumed_from) / seconds : 0;
        const std::string text = label_ + " " + progress_text(done, total, rate);
        if (bar_) {
            log_ << "\r" << text << "\x1b[K" << (final ? "\n" : "") << std::flush;
        } else {
            log_ << text << "\n";
        }
    }

private:
    std::string label_;
    bool bar_;
    std::ostream& log_;
    const std::function<void(std::uint64_t, std::uint64_t)>& callback_;
    Clock::time_point start_;
    Clock::time_point last_;
};

// The pull of one file: GET with redirects, into DEST.partial (resumed when there), verified,
// renamed to DEST.
class Puller {
public:
    Puller(const PullOptions& options, std::string token, std::string token_origin)
        : options_(options), token_(std::move(token)), token_origin_(std::move(token_origin)), tls_(ssl::context::tls_client) {
        tls_.set_default_verify_paths();
        if (!options.ca_file.empty()) tls_.load_verify_file(options.ca_file);
        tls_.set_verify_mode(ssl::verify_peer);
    }

    // GET `url` into a string (an API answer of at most 16 MiB).
    std::string get_text(const std::string& url, int* status) {
        std::string body;
        Head head = request(url, 0, [&](const char* data, std::size_t n) {
            if (body.size() + n > (16u << 20)) throw Failure{"the answer of " + url + " is larger than 16 MiB"};
            body.append(data, n);
        }, false);
        *status = head.status;
        return body;
    }

    // Downloads `url` to `dest` (through dest.partial). Throws Failure.
    void download(const std::string& url, const std::string& dest, const std::string& label) {
        const std::string partial = dest + ".partial";
        std::error_code ec;
        std::uint64_t have = fs::exists(partial, ec) ? fs::file_size(partial, ec) : 0;
        if (!fetch(url, partial, have, label) && !fetch(url, partial, 0, label)) {
            // The server would not resume the partial file (it was removed), nor serve it whole.
            throw Failure{url + " answers neither the range asked for nor the whole file", false};
        }
        fs::rename(partial, dest, ec);
        if (ec) throw Failure{"cannot rename " + partial + " to " + dest + ": " + ec.message()};
        const int dir = ::open(fs::path(dest).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir >= 0) {
            ::fsync(dir);
            ::close(dir);
        }
    }

private:
    // One attempt. false: restart from zero (the partial was removed).
    bool fetch(const std::string& url, const std::string& partial, std::uint64_t have, const std::string& label) {
        Sha256 hash;
        int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) throw Failure{"cannot write " + partial + ": " + std::strerror(errno)};
        struct FdCloser {
            int fd;
            ~FdCloser() { ::close(fd); }
        } closer{fd};
        if (have > 0) {  // the bytes already there count towards the sha256
            const int in = ::open(partial.c_str(), O_RDONLY | O_CLOEXEC);
            std::vector<char> buffer(1 << 20);
            std::uint64_t read_total = 0;
            while (in >= 0 && read_total < have) {
                const ssize_t n = ::read(in, buffer.data(), buffer.size());
                if (n <= 0) break;
                hash.update(buffer.data(), static_cast<std::size_t>(n));
                read_total += static_cast<std::uint64_t>(n);
            }
            if (in >= 0) ::close(in);
            have = read_total;
        }
        std::uint64_t written = have;
        std::uint64_t total = 0;
        bool restart = false;
        bool started = false;
        Progress progress(label, options_.progress_bar, log(), options_.on_progress);
        Head head;
        try {
            head = request(url, have, [&](const char* data, std::size_t n) {
                if (!started) return;  // not the answer we append (an error page)
                if (options_.cancel != nullptr && options_.cancel->load()) throw Failure{"cancelled"};
                std::size_t done = 0;
                while (done < n) {
                    const ssize_t w = ::pwrite(fd, data + done, n - done, static_cast<off_t>(written + done));
                    if (w < 0 && errno == EINTR) continue;
                    if (w <= 0) throw Failure{"cannot write " + partial + ": " + std::strerror(errno)};
                    done += static_cast<std::size_t>(w);
                }
                hash.update(data, n);
                written += n;
                progress.update(written, total, have);
            }, true, [&](Head& h) {
                // Headers of the final answer: decide where its body goes.
                if (h.status == 206 && have > 0) {
                    const auto range = parse_content_range(h.content_range);
                    if (!range || range->first != have) {
                        restart = true;  // not the range asked for
                        return;
                    }
                    total = range->total;
                    started = true;
                } else if (h.status == 200) {
                    if (have > 0) {  // the server ignored the range: from the start
                        if (::ftruncate(fd, 0) != 0) throw Failure{"cannot truncate " + partial};
                        hash.reset();
                        written = have = 0;
                    }
                    total = h.content_length.value_or(0);
                    started = true;
                } else if (h.status == 416 && have > 0) {
                    restart = true;
                }
                const std::uint64_t published = to_number(h.linked_size).value_or(0);
                if (published > 0) total = published;
                if (started && have > 0) log() << label << ": resuming at " << have << " bytes\n";
            });
        } catch (const Failure& failure) {
            if (started) progress.update(written, total, have, true);
            if (written == 0) {
                std::error_code ignored;
                fs::remove(partial, ignored);  // nothing came: no partial file left behind
            }
            throw Failure{failure.message + (written > 0 ? "; the " + std::to_string(written) + " bytes so far are kept in " + partial +
                                                               ": run the same pull again to resume"
                                                         : ""),
                          true};
        }
        if (restart) {
            ::close(fd);
            closer.fd = -1;
            std::error_code ec;
            fs::remove(partial, ec);
            return false;
        }
        if (!started) {
            std::error_code ignored;
            if (have == 0) fs::remove(partial, ignored);  // an empty file of ours; a partial from before stays
            throw Failure{describe_status(head, url), false};
        }
        progress.update(written, total, have, true);
        if (::fsync(fd) != 0) throw Failure{"cannot fsync " + partial + ": " + std::strerror(errno)};
        if (total > 0 && written != total) {
            throw Failure{"the download ended at " + std::to_string(written) + " of " + std::to_string(total) +
                              " bytes; the partial file " + partial + " is kept: run the same pull again to resume",
                          true};
        }
        std::string expected = sha256_of_etag(head.linked_etag);
        if (expected.empty()) expected = sha256_of_etag(head.etag);
        const std::string got = hash.hex();
        if (!expected.empty() && got != expected) {
            fs::remove(partial);
            throw Failure{"checksum mismatch: the source publishes sha256 " + expected + ", the download has " + got +
                              "; the partial file was deleted",
                          false};
        }
        log() << label << ": " << (expected.empty() ? "size verified (the source publishes no sha256)" : "sha256 verified")
                  << "\n";
        return true;
    }

    std::string describe_status(const Head& head, const std::string& url) const {
        const auto target = parse_target(url);
        const std::string where = target ? origin(*target) + target->path : url;
        if (head.status == 401 || head.status == 403) {
            return where + " answered " + std::to_string(head.status) +
                   (token_.empty() ? ": the file is gated or private; set HF_TOKEN to a Hugging Face token with access to it"
                                   : ": the token in HF_TOKEN has no access to it (accept the model's terms on its page)");
        }
        if (head.status == 404) return where + " answered 404: no such file (check the repository and file name)";
        return where + " answered " + std::to_string(head.status);
    }

    // GET `url` with `have` bytes already there (a Range request when > 0), following redirects;
    // the final answer's body goes to `sink` (after `on_head`, when given, saw its headers). Returns
    // the final answer's head, with X-Linked-* from any hop.
    Head request(const std::string& start_url, std::uint64_t have, const std::function<void(const char*, std::size_t)>& sink,
                 bool resumable, const std::function<void(Head&)>& on_head = {}) {
        std::string url = start_url;
        Head linked;
        for (int hop = 0; hop <= kMaxRedirects; ++hop) {
            const auto target = parse_target(url);
            if (!target) throw Failure{"not an http(s) URL: " + url, false};
            asio::io_context io;
            Head head;
            try {
                Connection connection(io, tls_, *target);
                http::request<http::empty_body> req{http::verb::get, target->path, 11};
                req.set(http::field::host, target->host);
                req.set(http::field::user_agent, "switchyard-pull/0.1");
                req.set(http::field::connection, "close");
                // The token goes only to the Hugging Face endpoint, never to a redirect's CDN.
                if (!token_.empty() && origin(*target) == token_origin_) req.set(http::field::authorization, "Bearer " + token_);
                if (have > 0 && resumable) req.set(http::field::range, "bytes=" + std::to_string(have) + "-");
                connection.with_stream([&](auto& stream) {
                    http::write(stream, req);
                    beast::flat_buffer buffer;
                    http::response_parser<http::buffer_body> parser;
                    parser.body_limit(boost::none);
                    http::read_header(stream, buffer, parser);
                    const auto& res = parser.get();
                    head.status = res.result_int();
                    auto field = [&](std::string_view name) { return std::string(res[name]); };
                    head.location = field("Location");
                    head.linked_etag = field("X-Linked-Etag");
                    head.linked_size = field("X-Linked-Size");
                    head.etag = field("ETag");
                    head.content_range = field("Content-Range");
                    if (parser.content_length()) head.content_length = *parser.content_length();
                    if (head.linked_etag.empty()) head.linked_etag = linked.linked_etag;
                    if (head.linked_size.empty()) head.linked_size = linked.linked_size;
                    const bool redirect = head.status >= 300 && head.status < 400 && !head.location.empty();
                    if (redirect) return;
                    if (on_head) on_head(head);
                    char chunk[1 << 16];
                    while (!parser.is_done()) {
                        parser.get().body().data = chunk;
                        parser.get().body().size = sizeof chunk;
                        beast::error_code ec;
                        http::read(stream, buffer, parser, ec);
                        if (ec == http::error::need_buffer) ec = {};
                        const std::size_t n = sizeof chunk - parser.get().body().size;
                        if (n > 0) sink(chunk, n);
                        if (ec) throw beast::system_error(ec);
                    }
                });
            } catch (const beast::system_error& e) {
                if (head.status == 0) throw Failure{"cannot reach " + origin(*target) + ": " + e.code().message()};
                throw Failure{"connection to " + origin(*target) + " cut: " + e.code().message()};
            }
            if (head.status >= 300 && head.status < 400 && !head.location.empty()) {
                if (!head.linked_etag.empty()) linked.linked_etag = head.linked_etag;
                if (!head.linked_size.empty()) linked.linked_size = head.linked_size;
                url = resolve_location(*target, head.location);
                continue;
            }
            return head;
        }
        throw Failure{"more than " + std::to_string(kMaxRedirects) + " redirects from " + start_url, false};
    }

    std::ostream& log() const { return options_.log != nullptr ? *options_.log : std::cerr; }

    const PullOptions& options_;
    std::string token_;
    std::string token_origin_;
    ssl::context tls_;
};

// The repository's file names from GET /api/models/ORG/REPO ("siblings": [{"rfilename"}]).
std::vector<std::string> list_repo(Puller& puller, const std::string& endpoint, const std::string& repo) {
    const std::string url = endpoint + "/api/models/" + repo;
    int status = 0;
    const std::string body = puller.get_text(url, &status);
    if (status == 401 || status == 403) {
        throw Failure{url + " answered " + std::to_string(status) + ": the repository is gated or private; set HF_TOKEN", false};
    }
    if (status == 404) throw Failure{"no repository " + repo + " at " + endpoint, false};
    if (status != 200) throw Failure{url + " answered " + std::to_string(status), false};
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    simdjson::dom::array siblings;
    if (parser.parse(body).get(root) != simdjson::SUCCESS || root["siblings"].get_array().get(siblings) != simdjson::SUCCESS) {
        throw Failure{url + " did not answer a model's file list", false};
    }
    std::vector<std::string> files;
    for (simdjson::dom::element sibling : siblings) {
        std::string_view name;
        if (sibling["rfilename"].get(name) == simdjson::SUCCESS) files.emplace_back(name);
    }
    return files;
}


}  // namespace

std::string sha256_of_etag(std::string_view etag) {
    if (etag.starts_with("W/")) etag.remove_prefix(2);
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
    if (etag.size() != 64 || !std::all_of(etag.begin(), etag.end(), [](unsigned char c) { return std::isxdigit(c); })) return {};
    return lower(std::string(etag));
}

std::optional<ContentRange> parse_content_range(std::string_view text) {
    if (!text.starts_with("bytes ")) return std::nullopt;
    text.remove_prefix(6);
    const auto dash = text.find('-');
    const auto slash = text.find('/');
    if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash) return std::nullopt;
    ContentRange r;
    const auto first = to_number(text.substr(0, dash));
    const auto last = to_number(text.substr(dash + 1, slash - dash - 1));
    const auto total_text = text.substr(slash + 1);
    if (!first || !last || *last < *first) return std::nullopt;
    r.first = *first;
    r.last = *last;
    if (total_text != "*") {
        const auto total = to_number(total_text);
        if (!total || *total <= *last) return std::nullopt;
        r.total = *total;
    }
    return r;
}

std::string progress_text(std::uint64_t done, std::uint64_t total, double rate) {
    auto size = [](double bytes) {
        char text[32];
        if (bytes >= (1ull << 30)) std::snprintf(text, sizeof text, "%.2f GiB", bytes / (1ull << 30));
        else std::snprintf(text, sizeof text, "%.1f MiB", bytes / (1ull << 20));
        return std::string(text);
    };
    std::string out;
    if (total > 0) {
        const double share = static_cast<double>(done) / static_cast<double>(total);
        const int width = 24;
        const int filled = static_cast<int>(share * width);
        out = "[" + std::string(static_cast<std::size_t>(std::clamp(filled, 0, width)), '#') +
              std::string(static_cast<std::size_t>(width - std::clamp(filled, 0, width)), ' ') + "] ";
        char percent[8];
        std::snprintf(percent, sizeof percent, "%3d%%", static_cast<int>(share * 100));
        out += std::string(percent) + " " + size(static_cast<double>(done)) + " / " + size(static_cast<double>(total));
    } else {
        out = size(static_cast<double>(done));
    }
    out += "  " + size(rate) + "/s";
    if (total > done && rate > 0) {
        const auto eta = static_cast<long>(static_cast<double>(total - done) / rate);
        out += "  ETA " + (eta >= 3600 ? std::to_string(eta / 3600) + "h" + std::to_string(eta % 3600 / 60) + "m"
                           : eta >= 60 ? std::to_string(eta / 60) + "m" + std::to_string(eta % 60) + "s"
                                       : std::to_string(eta) + "s");
    }
    return out;
}

int pull(const PullOptions& options, const Env& env) {
    std::ostream& errors = options.log != nullptr ? *options.log : std::cerr;
    std::ostream& result = options.out != nullptr ? *options.out : std::cout;
    const Source source = parse_source(options.source);
    if (!source.ok()) {
        errors << "switchyard pull: " << source.error << "\n";
        return 2;
    }
    const std::string name = options.name.empty() ? default_name(source) : options.name;
    if (!valid_name(name)) {
        errors << "switchyard pull: '" << name << "' is not a model name (letters, digits, . _ - +); give one with --as\n";
        return 2;
    }
    std::string endpoint = env("HF_ENDPOINT").value_or("https://huggingface.co");
    while (endpoint.ends_with("/")) endpoint.pop_back();
    const std::string token = env("HF_TOKEN").value_or("");
    const auto endpoint_target = parse_target(endpoint);
    if (!endpoint_target) {
        errors << "switchyard pull: HF_ENDPOINT is not an http(s) URL\n";
        return 2;
    }
    std::error_code ec;
    fs::create_directories(options.models_dir, ec);
    if (ec) {
        errors << "switchyard pull: cannot create the model store " << options.models_dir << ": " << ec.message() << "\n";
        return 1;
    }
    const Store store(options.models_dir);
    if (const auto existing = store.find(name); existing && existing->error.empty()) {
        errors << "switchyard pull: " << name << " is already in the store (" << existing->paths.front()
                  << "); remove it first with switchyard rm " << name << "\n";
        return 1;
    }
    try {
        Puller puller(options, token, origin(*endpoint_target));
        // (url, destination file) for each file to fetch.
        std::vector<std::pair<std::string, std::string>> files;
        if (!source.url.empty()) {
            files.emplace_back(source.url, name + ".gguf");
        } else {
            std::vector<std::string> chosen{source.file};
            if (source.file.empty()) {
                std::string why;
                chosen = choose_files(list_repo(puller, endpoint, source.repo), source.quant, &why);
                if (chosen.empty()) throw Failure{"hf:" + source.repo + ": " + why, false};
            }
            for (const auto& file : chosen) {
                const auto part = split_part(file.substr(file.rfind('/') + 1));
                char suffix[32] = "";
                if (part) std::snprintf(suffix, sizeof suffix, "-%05u-of-%05u", part->index, part->count);
                files.emplace_back(endpoint + "/" + source.repo + "/resolve/main/" + percent_encode(file, "/"),
                                   name + suffix + ".gguf");
            }
        }
        for (std::size_t i = 0; i < files.size(); ++i) {
            const auto& [url, file] = files[i];
            const std::string dest = options.models_dir + "/" + file;
            if (fs::exists(dest)) continue;  // a part of a split model pulled before
            puller.download(url, dest, files.size() > 1 ? file : name);
        }
    } catch (const Failure& failure) {
        errors << "switchyard pull: " << failure.message << "\n";
        return 1;
    } catch (const std::exception& e) {
        errors << "switchyard pull: " << e.what() << "\n";
        return 1;
    }
    const auto entry = store.find(name);
    if (!entry || !entry->error.empty()) {
        errors << "switchyard pull: the download is not a usable GGUF model: " << (entry ? entry->error : "missing")
                  << "\n";
        if (entry) {
            std::string ignored;
            store.remove(name, &ignored);
        }
        return 1;
    }
    result << "pulled " << name << " into " << entry->paths.front() << " (" << entry->bytes << " bytes; "
              << (entry->info.architecture.empty() ? "?" : entry->info.architecture) << ", " << entry->info.parameters
              << " parameters, " << (entry->info.quantization.empty() ? "?" : entry->info.quantization) << ", context "
              << entry->info.context_length << ")\n";
    return 0;
}

}  // namespace switchyard::models
